//! Customer web-chat session (`/ws/chat`): one actor per socket, bound by its visitor
//! token to one customer. Parses `ChatClientMsg` frames and forwards them to the
//! customer's actor as channel `chat` input; writes `ChatServerMsg` pushes as JSON.

use super::frames::{decode, screen, RateLimit, Screened};
use super::protocol::{ChatClientMsg, ChatServerMsg, ErrorCode, WireError};
use crate::actors::ingest::{self, ChatInput};
use crate::actors::messages::{
    AttachChat, CallAction, CallFrom, CallRequest, ChatNotice, ChatPush, CustomerLeave, DetachChat,
    EngineError, EscalateVideo, Identify, Typing,
};
use crate::actors::sessions::SessionRef;
use crate::domain::CustomerId;
use crate::Server;
use actix::prelude::*;
use actix_web_actors::ws;
use std::time::{Duration, Instant};

/// Event ids a socket remembers as shown to its client.
const SHOWN: usize = 256;

pub struct ChatSession {
    server: Server,
    customer: CustomerId,
    /// The visitor's chat address (its identity on channel `chat`).
    address: String,
    /// Signed visitor token, sent in `welcome`.
    token: String,
    /// This socket's address (`actors::sessions`): in the engine's table while it runs.
    session: SessionRef,
    last_seen: Instant,
    max_bytes: usize,
    rate: RateLimit,
    /// The customer actor this socket attached to. If it stops here while the socket
    /// is open (a crash, or a merge retiring the record) the client is told to
    /// reconnect, which attaches it to a fresh actor reloaded from the store; if its
    /// key moves to another node (cluster), the socket attaches again where it runs
    /// now and stays open ([`ChatSession::follow_customer`]).
    attached: Option<crate::actors::mail::Seat<crate::actors::customer::CustomerActor>>,
    /// A re-attach to a moved actor is under way.
    following: bool,
    /// The events this socket showed its client (pushed, acknowledged or in the
    /// welcome's history), the newest [`SHOWN`] by id: what a re-attach does not send
    /// again.
    shown: std::collections::BTreeSet<crate::domain::EventId>,
    /// The newest id dropped from `shown` (shown, or not: it is not known any more).
    forgot: Option<crate::domain::EventId>,
    /// Messages sent to the customer actor and not yet answered (acked or refused);
    /// bounded by `limits.chat_in_flight_per_socket`.
    in_flight: usize,
    /// The client address this socket's anonymous budgets are taken from.
    client: Option<std::net::IpAddr>,
    /// Holds this socket's place in its address's `anonymous.max_chat_sockets`.
    _permit: Option<crate::budget::SocketPermit>,
}

impl ChatSession {
    pub fn new(
        server: Server,
        customer: CustomerId,
        address: String,
        token: String,
        client: Option<std::net::IpAddr>,
        permit: Option<crate::budget::SocketPermit>,
    ) -> Self {
        let s = &server.settings;
        Self {
            session: server.new_session(),
            max_bytes: s.limits.max_ws_message_bytes,
            rate: RateLimit::from_settings(s),
            server: server.clone(),
            customer,
            address,
            token,
            last_seen: Instant::now(),
            attached: None,
            following: false,
            shown: Default::default(),
            forgot: None,
            in_flight: 0,
            client,
            _permit: permit,
        }
    }

    /// Notes that the client was shown event `id`.
    fn showed(&mut self, id: crate::domain::EventId) {
        self.shown.insert(id);
        while self.shown.len() > SHOWN {
            self.forgot = self.shown.pop_first().max(self.forgot);
        }
    }

    fn send(ctx: &mut ws::WebsocketContext<Self>, msg: &ChatServerMsg) {
        match serde_json::to_string(msg) {
            Ok(t) => ctx.text(t),
            Err(e) => tracing::error!(error = %e, "chat message did not serialise"),
        }
    }

    fn error(ctx: &mut ws::WebsocketContext<Self>, e: WireError) {
        Self::send(ctx, &ChatServerMsg::Error(e));
    }

    fn engine_error(
        ctx: &mut ws::WebsocketContext<Self>,
        e: EngineError,
        reference: Option<String>,
    ) {
        Self::error(
            ctx,
            WireError {
                code: e.code,
                message: e.message,
                reference,
                event_id: e.event_id,
            },
        );
    }

    /// A visitor's message: checked at the web-chat door (`actors::ingest::from_chat`),
    /// held to the socket's in-flight limit, stored, acknowledged.
    fn send_message(&mut self, mut input: ChatInput, ctx: &mut ws::WebsocketContext<Self>) {
        let client_msg_id = input.client_msg_id.clone();
        let files = std::mem::take(&mut input.files);
        let inbound = match ingest::from_chat(&self.server, &self.address, input, self.client) {
            Ok(i) => i,
            Err(e) => return Self::engine_error(ctx, e, Some(client_msg_id)),
        };
        if self.in_flight >= self.server.settings.limits.chat_in_flight_per_socket {
            return Self::error(
                ctx,
                WireError {
                    code: ErrorCode::Busy,
                    message:
                        "too many messages waiting to be stored; resend this one after the acks"
                            .into(),
                    reference: Some(client_msg_id),
                    event_id: None,
                },
            );
        }
        self.in_flight += 1;
        let server = self.server.clone();
        let customer = self.customer;
        let began = std::time::Instant::now();
        let fut = async move {
            let mut inbound = inbound;
            if !files.is_empty() {
                let engine = &server.engine;
                inbound.attachments =
                    crate::actors::files::resolve(engine, customer, &files).await?;
                if inbound.text.trim().is_empty() {
                    inbound.text = ingest::describe_attachments(&inbound.attachments);
                }
            }
            let answer = server.ask_customer(customer, inbound).await;
            crate::metrics::message_stage("customer", "round_trip", began);
            answer
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            act.in_flight -= 1;
            match res {
                Ok(ack) => {
                    act.showed(ack.event_id);
                    Self::send(
                        ctx,
                        &ChatServerMsg::Ack {
                            client_msg_id,
                            event_id: ack.event_id,
                            conversation_id: ack.conversation_id,
                            duplicate: ack.duplicate,
                        },
                    )
                }
                Err(e) => Self::engine_error(ctx, e, Some(client_msg_id)),
            }
        }));
    }

    fn on_message(&mut self, msg: ChatClientMsg, ctx: &mut ws::WebsocketContext<Self>) {
        let server = self.server.clone();
        let customer = self.customer;
        match msg {
            ChatClientMsg::Ping { nonce } => Self::send(ctx, &ChatServerMsg::Pong { nonce }),
            ChatClientMsg::Handoff {
                client_msg_id,
                text,
            } => self.send_message(ChatInput::handoff(client_msg_id, text), ctx),
            ChatClientMsg::Typing {} => server.tell_customer(
                customer,
                Typing {
                    conversation_id: None,
                    from_agent: false,
                },
            ),
            ChatClientMsg::Message {
                client_msg_id,
                text,
                queue,
                ivr_path,
                files,
            } => self.send_message(
                ChatInput {
                    client_msg_id,
                    text,
                    queue,
                    ivr_path,
                    files,
                },
                ctx,
            ),
            ChatClientMsg::Identify { name, email, phone } => {
                let fut = async move {
                    server
                        .ask_customer(customer, Identify { name, email, phone })
                        .await
                };
                ctx.spawn(fut.into_actor(self).map(|res, _, ctx| {
                    if let Err(e) = res {
                        Self::engine_error(ctx, e, None)
                    }
                }));
            }
            ChatClientMsg::EscalateVideo {} => {
                let fut = async move { server.ask_customer(customer, EscalateVideo).await };
                ctx.spawn(fut.into_actor(self).map(|res, _, ctx| {
                    if let Err(e) = res {
                        Self::engine_error(ctx, e, None)
                    }
                }));
            }
            ChatClientMsg::SurveyAnswer {
                conversation_id,
                score,
                comment,
            } => {
                let fut = super::survey::answer(server, customer, conversation_id, score, comment);
                ctx.spawn(fut.into_actor(self).map(|m, _, ctx| Self::send(ctx, &m)));
            }
            ChatClientMsg::RequestCallback {
                phone,
                note,
                ivr_path,
                queue,
            } => {
                let fut = crate::actors::customer::callback::from_chat(
                    server.engine.clone(),
                    self.client,
                    customer,
                    phone,
                    note,
                    ivr_path,
                    queue,
                );
                ctx.spawn(fut.into_actor(self).map(|res, _, ctx| match res {
                    Ok(n) => Self::send(ctx, &frame_of(n)),
                    Err(e) => Self::engine_error(ctx, e, None),
                }));
            }
            ChatClientMsg::CallStart { media } => self.call(CallAction::Start { media }, None, ctx),
            ChatClientMsg::CallAnswer { call_id } => {
                let r = Some(call_id.clone());
                self.call(CallAction::Answer { call_id }, r, ctx)
            }
            ChatClientMsg::CallSignal { call_id, signal } => {
                let r = Some(call_id.clone());
                self.call(CallAction::Signal { call_id, signal }, r, ctx)
            }
            ChatClientMsg::CallHangup { call_id } => {
                let r = Some(call_id.clone());
                self.call(CallAction::Hangup { call_id }, r, ctx)
            }
            ChatClientMsg::Leave {} => {
                let fut = async move { server.ask_customer(customer, CustomerLeave).await };
                ctx.spawn(fut.into_actor(self).map(|res, _, ctx| {
                    if let Err(e) = res {
                        Self::engine_error(ctx, e, None)
                    }
                }));
            }
        }
    }
}

impl ChatSession {
    /// A browser call request from this socket: a start is answered `call_ringing`
    /// (here only), a refusal an `error` naming `reference` (the call).
    fn call(
        &mut self,
        action: CallAction,
        reference: Option<String>,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let server = self.server.clone();
        let customer = self.customer;
        let ask = CallRequest {
            conversation_id: None,
            from: CallFrom::Customer {
                session: self.session.clone(),
            },
            action,
        };
        let fut = async move { server.ask_customer(customer, ask).await };
        ctx.spawn(fut.into_actor(self).map(move |res, _, ctx| match res {
            Ok(Some(ring)) => Self::send(ctx, &ChatServerMsg::CallRinging(ring)),
            Ok(None) => {}
            Err(e) => Self::engine_error(ctx, e, reference),
        }));
    }

    /// The customer's actor this socket attached to stopped or moved. Stopped here (a
    /// crash, or a merge retiring the record): the client is told to reconnect, which
    /// attaches it to the record that holds its identity now. Moved to another node
    /// with its shard (a takeover, a handover): the socket follows it
    /// ([`ChatSession::follow_customer`]) and stays open. Returns whether the socket
    /// is closing.
    fn closing_if_customer_moved(&mut self, ctx: &mut ws::WebsocketContext<Self>) -> bool {
        let Some(seat) = self.attached.as_ref() else {
            return false;
        };
        if self.following || !self.server.moved(seat) {
            return false;
        }
        let moved_away = match seat {
            crate::actors::mail::Seat::There { .. } => true,
            crate::actors::mail::Seat::Here(_) => {
                !self
                    .server
                    .is_here::<crate::actors::customer::CustomerActor>(&self.customer)
            }
        };
        if moved_away {
            self.follow_customer(ctx);
            return false;
        }
        Self::reconnect(ctx);
        true
    }

    /// Tells the client to reconnect (close code 1012) and closes.
    fn reconnect(ctx: &mut ws::WebsocketContext<Self>) {
        Self::send(
            ctx,
            &ChatServerMsg::Reconnect {
                reason: "customer_restarted".into(),
            },
        );
        ctx.close(Some(ws::CloseReason {
            code: ws::CloseCode::Restart,
            description: Some(super::drain::RECONNECT_REASON.into()),
        }));
        ctx.stop();
    }

    /// Attaches this socket to the customer's actor where it runs now, keeping the
    /// socket open: the client neither reconnects nor resends, and what it sent
    /// meanwhile is answered by the new owner (messages to a key between owners wait
    /// for it, `Cluster::ask_owner`). Pushes the old actor made and never delivered
    /// (lost with its node) are caught up from the new actor's history: every event
    /// newer than the oldest this socket remembers showing, not shown yet, oldest first,
    /// then the conversation as it is. Other frames wait until that is done. If the
    /// actor cannot be reached within the deadline, the client is told to reconnect.
    fn follow_customer(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        self.following = true;
        let attach = AttachChat {
            session: self.session.clone(),
        };
        let (server, customer) = (self.server.clone(), self.customer);
        ctx.wait(
            async move { server.ask_customer(customer, attach).await }
                .into_actor(self)
                .map(|res, act, ctx| {
                    act.following = false;
                    let w = match res {
                        Ok(w) => w,
                        Err(e) => {
                            tracing::info!(customer = %act.customer, error = %e, "a chat socket could not follow its customer's actor; told to reconnect");
                            crate::metrics::socket_followed("chat", "reconnect");
                            return Self::reconnect(ctx);
                        }
                    };
                    crate::metrics::socket_followed("chat", "followed");
                    act.attached = Some(act.server.seat::<crate::actors::customer::CustomerActor>(
                        &act.customer,
                        || act.server.customer(act.customer),
                    ));
                    for event in missed(w.history, &act.shown, act.forgot) {
                        act.showed(event.id);
                        Self::send(ctx, &ChatServerMsg::Event { event });
                    }
                    if let Some(c) = w.conversation {
                        Self::send(ctx, &ChatServerMsg::Conversation(c));
                    }
                }),
        );
    }
}

impl Actor for ChatSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        crate::metrics::ws_connections("chat", 1);
        self.server
            .register_chat_session(&self.session, ctx.address().recipient());
        let attach = AttachChat {
            session: self.session.clone(),
        };
        let server = self.server.clone();
        let customer = self.customer;
        // Hold other frames until the welcome is out.
        ctx.wait(
            async move { server.ask_customer(customer, attach).await }
                .into_actor(self)
                .map(|res, act, ctx| match res {
                    Ok(w) => {
                        for e in &w.history {
                            act.showed(e.id);
                        }
                        act.attached =
                            Some(act.server.seat::<crate::actors::customer::CustomerActor>(
                                &act.customer,
                                || act.server.customer(act.customer),
                            ));
                        Self::send(
                            ctx,
                            &ChatServerMsg::Welcome {
                                protocol: super::protocol::PROTOCOL_VERSION,
                                token: act.token.clone(),
                                customer_id: act.customer,
                                conversation: w.conversation,
                                history: w.history,
                                calls: act.server.engine.settings.calls.media.clone(),
                            },
                        )
                    }
                    Err(e) => {
                        Self::engine_error(ctx, e, None);
                        ctx.close(Some(ws::CloseReason {
                            code: ws::CloseCode::Error,
                            description: Some("customer unavailable".into()),
                        }));
                        ctx.stop();
                    }
                }),
        );
        let reconnect = serde_json::to_string(&ChatServerMsg::Reconnect {
            reason: "shutdown".into(),
        })
        .unwrap_or_default();
        super::drain::watch(self, ctx, self.server.drain_signal(), reconnect);
        let heartbeat = Duration::from_millis(self.server.settings.timing.heartbeat_ms);
        let timeout = Duration::from_millis(self.server.settings.timing.client_timeout_ms);
        // In a cluster, the customer's actor may move with its shard: look as often as
        // the lease rows are read, so the client reconnects to it at once.
        if let Some(every) = self.server.seat_check() {
            ctx.run_interval(every, |act, ctx| {
                act.closing_if_customer_moved(ctx);
            });
        }
        ctx.run_interval(heartbeat, move |act, ctx| {
            if act.closing_if_customer_moved(ctx) {
                return;
            }
            if act.last_seen.elapsed() > timeout {
                super::frames::close_idle(ctx);
            } else {
                ctx.ping(b"");
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        crate::metrics::ws_connections("chat", -1);
        self.server.unregister_session(self.session.id);
        self.server.tell_customer(
            self.customer,
            DetachChat {
                session: self.session.clone(),
            },
        );
    }
}

impl Handler<ChatPush> for ChatSession {
    type Result = ();
    fn handle(&mut self, msg: ChatPush, ctx: &mut Self::Context) {
        if let ChatNotice::Event { event } = &msg.0 {
            self.showed(event.id);
        }
        Self::send(ctx, &frame_of(msg.0));
    }
}

/// The events of `history` (oldest first) a socket has not shown: not among those it
/// remembers showing (`shown`, since its welcome), and newer than the newest it
/// forgot (`forgot`: older ones it may have shown). The history is the latest events,
/// as the welcome's was, so what is older than the welcome's is in neither.
fn missed(
    history: Vec<crate::domain::TimelineEvent>,
    shown: &std::collections::BTreeSet<crate::domain::EventId>,
    forgot: Option<crate::domain::EventId>,
) -> Vec<crate::domain::TimelineEvent> {
    history
        .into_iter()
        .filter(|e| forgot.is_none_or(|f| e.id > f) && !shown.contains(&e.id))
        .collect()
}

/// The frame for a customer actor's notice (the actor never builds a frame).
/// Exhaustive, so a new notice does not compile until it is mapped.
fn frame_of(n: ChatNotice) -> ChatServerMsg {
    match n {
        ChatNotice::Event { event } => ChatServerMsg::Event { event },
        ChatNotice::Conversation(c) => ChatServerMsg::Conversation(c),
        ChatNotice::AgentTyping => ChatServerMsg::AgentTyping {},
        ChatNotice::Survey {
            conversation_id,
            question,
            scale_max,
        } => ChatServerMsg::Survey {
            conversation_id,
            question,
            scale_max,
        },
        ChatNotice::CallbackRequested {
            conversation_id,
            phone,
        } => ChatServerMsg::CallbackRequested {
            conversation_id,
            phone,
        },
        ChatNotice::CallIncoming(r) => ChatServerMsg::CallIncoming(r),
        ChatNotice::CallAnswered(r) => ChatServerMsg::CallAnswered(r),
        ChatNotice::CallSignal(r) => ChatServerMsg::CallSignal(r),
        ChatNotice::CallEnded(e) => ChatServerMsg::CallEnded(e),
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for ChatSession {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_seen = Instant::now();
        let text = match screen(item, &mut self.rate) {
            Screened::Text(t) => t,
            Screened::Pong(p) => return ctx.pong(&p),
            Screened::Ignore => return,
            Screened::Error(e) => return Self::error(ctx, e),
            Screened::Close(r) => {
                ctx.close(r);
                return ctx.stop();
            }
        };
        match decode::<ChatClientMsg>(&text, self.max_bytes) {
            Ok(m) => self.on_message(m, ctx),
            Err(e) => Self::error(ctx, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::missed;
    use crate::domain::{AgentId, CustomerId, EventId, EventKind, Millis, TimelineEvent};

    fn event(id: EventId, customer: CustomerId) -> TimelineEvent {
        TimelineEvent {
            id,
            customer_id: customer,
            conversation_id: None,
            at: Millis(0),
            kind: EventKind::Note {
                agent_id: AgentId::parse("ana").unwrap(),
                text: String::new(),
            },
        }
    }

    /// What a followed socket sends again: only what it did not show, newer than the
    /// oldest it remembers, in the history's order.
    #[test]
    fn a_followed_socket_is_sent_only_what_it_missed() {
        let customer = CustomerId::new();
        let ids: Vec<EventId> = (0..6).map(|_| EventId::new()).collect();
        let history: Vec<TimelineEvent> = ids.iter().map(|&id| event(id, customer)).collect();
        let ids_of = |v: Vec<TimelineEvent>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
        // Shown: 1, 2 and 4; 0 forgotten; 3 and 5 lost.
        let shown = [ids[1], ids[2], ids[4]].into_iter().collect();
        let got = ids_of(missed(history.clone(), &shown, Some(ids[0])));
        assert_eq!(got, vec![ids[3], ids[5]]);
        // Nothing forgotten: 0 was never shown either.
        let got = ids_of(missed(history.clone(), &shown, None));
        assert_eq!(got, vec![ids[0], ids[3], ids[5]]);
        // A socket whose welcome was empty and that was shown nothing missed it all.
        assert_eq!(ids_of(missed(history, &Default::default(), None)), ids);
    }
}
