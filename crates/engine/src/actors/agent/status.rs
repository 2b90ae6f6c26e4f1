//! The agent's status (available, away with a reason, offline) as the agent or a
//! supervisor sets it, and the queues it serves.

use super::*;

impl AgentActor {
    pub(super) fn set_status(
        &mut self,
        session: SessionRef,
        status: RequestedStatus,
        reason: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let reason = reason.unwrap_or_default();
        if let Err(e) = check_reason(&reason) {
            return self.error_to(&session, e, None);
        }
        self.apply_status(status, reason, ctx);
    }

    /// Sets the status (reason already checked), tells every socket and the queues,
    /// and pulls work if the agent became available.
    pub(super) fn apply_status(
        &mut self,
        status: RequestedStatus,
        reason: String,
        ctx: &mut Context<Self>,
    ) {
        match status {
            RequestedStatus::Available => {
                if self.status != AgentStatus::Available && self.held.is_empty() {
                    self.idle_since = self.engine.now();
                }
                self.status = AgentStatus::Available;
                self.missed_in_row = 0;
            }
            RequestedStatus::Away => {
                self.status = AgentStatus::Away {
                    reason: if reason.is_empty() {
                        "away".into()
                    } else {
                        reason
                    },
                }
            }
        }
        self.push(self.status_msg());
        self.publish();
        self.pull(ctx);
    }
}

/// An away reason: at most 100 bytes of text without control characters.
pub fn check_reason(reason: &str) -> EngineResult<()> {
    if reason.len() > 100 || reason.chars().any(char::is_control) {
        return Err(EngineError::invalid(
            "reason must be at most 100 bytes of text",
        ));
    }
    Ok(())
}

impl Handler<SupervisorSetStatus> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: SupervisorSetStatus, ctx: &mut Context<Self>) {
        if check_reason(msg.reason.as_deref().unwrap_or("")).is_err() {
            return;
        }
        tracing::info!(agent = %self.profile.id, by = %msg.by, status = ?msg.status, "status set by a supervisor");
        self.apply_status(msg.status, msg.reason.unwrap_or_default(), ctx);
    }
}

impl Handler<SetAgentQueues> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: SetAgentQueues, ctx: &mut Context<Self>) {
        self.reprofile(|p| p.queues = msg.queues, ctx);
    }
}

impl Handler<SetAgentSkills> for AgentActor {
    type Result = ();
    fn handle(&mut self, msg: SetAgentSkills, ctx: &mut Context<Self>) {
        self.reprofile(|p| p.skills = msg.skills, ctx);
    }
}

impl AgentActor {
    /// Applies a change of the agent's queues or skills at once.
    fn reprofile(&mut self, change: impl FnOnce(&mut AgentProfile), ctx: &mut Context<Self>) {
        let before = self.eligible_queues();
        change(&mut self.profile);
        let after = self.eligible_queues();
        // Queues it no longer serves forget it; held conversations stay with it.
        for q in before.iter().filter(|q| !after.contains(q)) {
            self.engine.tell_queue_until_taken(
                q,
                AgentGone {
                    agent_id: self.profile.id.clone(),
                },
            );
        }
        self.publish();
        self.pull(ctx);
    }
}
