//! A capped builder for a decision's `TraceStep`s.
//!
//! Owns only the cap and the lazy formatting: details are built by closures that run
//! only while there is room, so a decision that skips hundreds of conversations does
//! not format hundreds of strings. It must not decide anything.

use super::types::TraceStep;
use domain::AgentId;

/// At most this many steps per decision (the `"considered"` and `"chosen"` steps are
/// always kept; steps beyond the cap are counted and reported in the `"chosen"` step).
pub const TRACE_CAP: usize = 16;

/// Steps collected while one class is walked for one decision.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    /// The steps kept so far, in the order they happened.
    pub steps: Vec<TraceStep>,
    /// Steps dropped because the cap was reached.
    pub omitted: usize,
}

impl Trace {
    /// Records a step if there is room (two slots stay reserved for the
    /// `"considered"` and `"chosen"` steps of the winner), else counts it.
    pub fn push(
        &mut self,
        step: &'static str,
        agent: Option<&AgentId>,
        detail: impl FnOnce() -> String,
    ) {
        if self.steps.len() < TRACE_CAP - 2 {
            self.steps.push(TraceStep {
                step,
                agent: agent.cloned(),
                detail: detail(),
            });
        } else {
            self.omitted += 1;
        }
    }

    /// A mark to `insert_at` later (the walk learns that a conversation is the winner
    /// only after its skipped agents were recorded).
    pub fn mark(&self) -> usize {
        self.steps.len()
    }

    /// Inserts a step at `mark`, ignoring the cap (used for the reserved slots).
    pub fn insert_at(
        &mut self,
        mark: usize,
        step: &'static str,
        agent: Option<&AgentId>,
        detail: String,
    ) {
        let at = mark.min(self.steps.len());
        self.steps.insert(
            at,
            TraceStep {
                step,
                agent: agent.cloned(),
                detail,
            },
        );
    }

    /// Inserts a step at `at` if there is room (as `push`), else counts it; returns
    /// whether it was inserted.
    pub fn insert_capped(
        &mut self,
        at: usize,
        step: &'static str,
        detail: impl FnOnce() -> String,
    ) -> bool {
        if self.steps.len() < TRACE_CAP - 2 {
            self.insert_at(at, step, None, detail());
            true
        } else {
            self.omitted += 1;
            false
        }
    }

    /// Appends a step ignoring the cap (the reserved `"chosen"` slot).
    pub fn push_reserved(&mut self, step: &'static str, agent: Option<&AgentId>, detail: String) {
        self.steps.push(TraceStep {
            step,
            agent: agent.cloned(),
            detail,
        });
    }
}
