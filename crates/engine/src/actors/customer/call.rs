//! Voice and video: a call's end (abandoned while waiting, completed, or ended in the
//! IVR menus) and a web chat escalated to video.
//!
//! A call in the IVR menus: each menu the caller reaches is told here ([`IvrStep`]) and
//! remembered until the call reaches a queue (its message arrives) or ends. One that
//! ends in the menus was served by self-service alone: its end writes a `self_service`
//! report event with the menus walked and no hand-off, as a contact of its own (an id
//! of its own; no conversation exists), so the funnel counts it as contained. The
//! memory is the actor's: a call whose customer's actor stopped meanwhile (its node
//! lost, or idle past `customer_idle_ms` between two steps) is not counted.
//!
//! An agent's leg answering a phone call ([`PhoneAnswered`]): one `call` event with
//! status `answered`, naming the agent, per leg.
//!
//! A phone call's recording ([`CallRecorded`]): one staff-only `call_recorded` event
//! per recording and status, on the conversation the call was bridged for (even once
//! it is closed: the platform reports a recording after the call ends).
//!
//! Video escalation: a web-chat customer asks to continue on video; the conversation
//! switches to channel `video` (exclusive capacity, like voice) and a join link from
//! the configured template goes to both sides as a `video_invited` event. The video
//! service itself (WebRTC, SFU) is outside the engine, as the telephony platform is
//! for voice.

use super::*;

/// Most calls one customer is remembered in the menus at once (the oldest goes first).
pub(super) const MAX_IVR_CALLS: usize = 4;

impl Handler<IvrStep> for CustomerActor {
    type Result = ();

    fn handle(&mut self, msg: IvrStep, _: &mut Context<Self>) {
        self.last_activity = Instant::now();
        if let Some(call) = self.ivr_calls.iter_mut().find(|(c, _)| *c == msg.call_id) {
            call.1 = msg.path;
            return;
        }
        self.ivr_calls.push_back((msg.call_id, msg.path));
        if self.ivr_calls.len() > MAX_IVR_CALLS {
            self.ivr_calls.pop_front();
        }
    }
}

impl Handler<CallEnded> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: CallEnded, ctx: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let idem = once::Idem::call_end(&msg);
        self.once(
            Some(idem),
            |_| (),
            |act, _, idem| act.apply_call_end(msg, idem),
            ctx,
        )
    }
}

impl CustomerActor {
    /// A call's message reached this customer: the call left the menus for a queue.
    pub(super) fn call_left_menus(&mut self, msg: &Inbound) {
        if msg.channel != Channel::Voice || self.ivr_calls.is_empty() {
            return;
        }
        if let Some(id) = &msg.client_msg_id {
            self.ivr_calls
                .retain(|(c, _)| crate::tombstones::provider_id(Channel::Voice, c) != *id);
        }
    }

    /// Records the end of a call not recorded before (see `once`).
    fn apply_call_end(&mut self, msg: CallEnded, idem: Option<once::Idem>) -> Atomic<()> {
        let at = self.ivr_calls.iter().position(|(c, _)| *c == msg.call_id);
        let in_menus = at.and_then(|i| self.ivr_calls.remove(i)).map(|(_, p)| p);
        // The call's conversation: the one an agent called out from, else the open one
        // if it is on voice, unless the call never left the menus (that one is an
        // earlier call's).
        let outbound = msg.conversation_id;
        let conv = match outbound {
            Some(id) => self.open.clone().filter(|c| c.id == id),
            None => self
                .open
                .clone()
                .filter(|c| c.channel == Channel::Voice && in_menus.is_none()),
        };
        let status = match outbound {
            Some(_) => format!("outbound {}", msg.status),
            None => msg.status.clone(),
        };
        let detail = match msg.duration_s {
            Some(s) => format!("{status} after {s} s"),
            None => status,
        };
        let ev = TimelineEvent::new(
            self.id,
            outbound.or(conv.as_ref().map(|c| c.id)),
            self.engine.now(),
            EventKind::Call {
                call_id: msg.call_id.clone(),
                status: crate::domain::CallStatus::Ended,
                detail: Some(detail),
            },
        );
        let conv_id = conv.as_ref().map(|c| c.id).unwrap_or_default();
        let contained = in_menus.and_then(|path| {
            Some(crate::domain::ReportEvent {
                id: crate::domain::EventId::derived(ev.id, 0),
                at: ev.at,
                queue: self.engine.default_queue_for(Channel::Voice)?,
                channel: Channel::Voice,
                conversation: ConversationId::new(),
                customer: self.id,
                agent: None,
                difficulty: None,
                kind: crate::domain::ReportKind::SelfService {
                    front: crate::domain::SelfServiceFront::VoiceIvr,
                    path,
                    turns: 0,
                    answers: 0,
                    handoff: None,
                },
            })
        });
        let mut batch = Batch::default().event(ev.clone());
        batch.report_events.extend(contained);
        let batch = self.with_idem(batch, idem.as_ref(), &ev, conv_id);
        Atomic::new(Box::pin(
            {
                let store = self.engine.store.clone();
                async move { store.commit(batch).await }
            }
            .into_actor(self)
            .map(move |res, act, ctx| {
                res.map_err(crate::store::StoreError::into_engine)?;
                act.remember(&ev);
                act.acked(idem, ev.id, conv_id);
                if let Some(c) = &conv {
                    act.tell_agent_event(
                        c,
                        ConversationEvent {
                            conversation_id: c.id,
                            event: ev.clone(),
                        },
                    );
                    // A caller who hangs up while waiting has abandoned (unless a
                    // callback was asked for).
                    if outbound.is_none()
                        && c.state == ConversationState::Queued
                        && !act.callback_pending(c.id)
                    {
                        act.abandon(ctx, false);
                    }
                }
                Ok(())
            }),
        ))
    }
}

impl Handler<CallRecorded> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: CallRecorded, ctx: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        if !crate::domain::recording_id_valid(&msg.recording_id) {
            return done(Err(EngineError::invalid(format!(
                "{:?} is not a recording id",
                msg.recording_id
            ))));
        }
        let idem = once::Idem::recording(&msg);
        self.once(
            Some(idem),
            |_| (),
            |act, _, idem| act.apply_recording(msg, idem),
            ctx,
        )
    }
}

impl CustomerActor {
    /// Records a recording's report not recorded before (see `once`).
    fn apply_recording(&mut self, msg: CallRecorded, idem: Option<once::Idem>) -> Atomic<()> {
        let conv_id = msg.conversation_id;
        let ev = TimelineEvent::new(
            self.id,
            Some(conv_id),
            self.engine.now(),
            EventKind::CallRecorded {
                call_id: msg.call_id,
                recording_id: msg.recording_id,
                status: msg.status,
                duration_s: msg.duration_s,
                url: msg.url,
            },
        );
        let batch = Batch::default().event(ev.clone());
        let batch = self.with_idem(batch, idem.as_ref(), &ev, conv_id);
        let open = self.open.clone().filter(|c| c.id == conv_id);
        self.commit_then(batch, move |act| {
            act.remember(&ev);
            act.acked(idem, ev.id, conv_id);
            if let Some(c) = &open {
                act.tell_agent_event(
                    c,
                    ConversationEvent {
                        conversation_id: c.id,
                        event: ev,
                    },
                );
            }
            Ok(())
        })
    }
}

impl Handler<PhoneAnswered> for CustomerActor {
    type Result = Atomic<()>;

    fn handle(&mut self, msg: PhoneAnswered, ctx: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let idem = once::Idem::answered(&msg);
        self.once(
            Some(idem),
            |_| (),
            |act, _, idem| act.apply_answered(msg, idem),
            ctx,
        )
    }
}

impl CustomerActor {
    /// Records an agent's leg answering a phone call, when its conversation is open on
    /// voice (see `once`).
    fn apply_answered(&mut self, msg: PhoneAnswered, idem: Option<once::Idem>) -> Atomic<()> {
        let conv_id = msg.conversation_id;
        let Some(open) = self
            .open
            .clone()
            .filter(|c| c.id == conv_id && c.channel == Channel::Voice)
        else {
            return done(Err(EngineError::new(
                crate::domain::ErrorCode::Conflict,
                "the conversation is not an open phone call",
            )));
        };
        let ev = TimelineEvent::new(
            self.id,
            Some(conv_id),
            self.engine.now(),
            EventKind::Call {
                call_id: msg.call_id,
                status: crate::domain::CallStatus::Answered,
                detail: Some(msg.agent_id.to_string()),
            },
        );
        let batch = Batch::default().event(ev.clone());
        let batch = self.with_idem(batch, idem.as_ref(), &ev, conv_id);
        self.commit_then(batch, move |act| {
            act.remember(&ev);
            act.acked(idem, ev.id, conv_id);
            act.tell_agent_event(
                &open,
                ConversationEvent {
                    conversation_id: open.id,
                    event: ev,
                },
            );
            Ok(())
        })
    }
}

impl Handler<EscalateVideo> for CustomerActor {
    type Result = Atomic<String>;

    fn handle(&mut self, _: EscalateVideo, _: &mut Context<Self>) -> Self::Result {
        try_atomic!(self.begin());
        let Some(template) = self
            .engine
            .settings
            .channels
            .video_join_url_template
            .clone()
        else {
            return done(Err(EngineError::invalid("video is not enabled")));
        };
        let Some(conv) = self.open.clone() else {
            return done(Err(EngineError::invalid(
                "there is no open conversation to continue on video",
            )));
        };
        let now = self.engine.now();
        let join_url = join_url(&template, conv.id);
        let (updated, mut events) = self.switched_to(&conv, Channel::Video, now);
        let invite = TimelineEvent::new(
            self.id,
            Some(conv.id),
            now,
            EventKind::VideoInvited {
                join_url: join_url.clone(),
            },
        );
        events.push(invite.clone());
        let batch = Batch {
            events: events.clone(),
            conversations: vec![updated.clone()],
            ..Default::default()
        };
        let batch = self.reported(batch, Some(&conv), &updated);
        self.commit_then(batch, move |act| {
            for e in &events {
                act.remember(e);
                act.tell_agent_event(
                    &updated,
                    ConversationEvent {
                        conversation_id: updated.id,
                        event: e.clone(),
                    },
                );
            }
            act.requeue_if_class_changed(&conv, &updated);
            act.open = Some(updated);
            act.push_chat(ChatNotice::Event { event: invite });
            Ok(join_url)
        })
    }
}

/// The join link for a new room of `conversation`: the template with `{room}` set to an
/// unguessable id and `{conversation}` to the conversation id.
fn join_url(template: &str, conversation: ConversationId) -> String {
    let room = uuid::Uuid::new_v4().simple().to_string();
    template
        .replace("{room}", &room)
        .replace("{conversation}", &conversation.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_unguessable_and_template_filled() {
        let template = "https://v.example/{room}?c={conversation}";
        let c = ConversationId::new();
        let a = join_url(template, c);
        let b = join_url(template, c);
        assert_ne!(a, b);
        assert!(a.starts_with("https://v.example/"));
        assert!(a.ends_with(&format!("?c={c}")));
        assert_eq!(
            a.len(),
            "https://v.example/".len() + 32 + 3 + c.to_string().len()
        );
    }
}
