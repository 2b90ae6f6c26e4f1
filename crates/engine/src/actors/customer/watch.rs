//! Supervisors watching a conversation live.

use super::*;

impl Handler<WatchConversation> for CustomerActor {
    type Result = EngineResult<ConversationView>;

    fn handle(&mut self, msg: WatchConversation, _: &mut Context<Self>) -> Self::Result {
        self.check_ready()?;
        let view = self.conversation_view(self.open_with(msg.conversation_id)?);
        self.watchers.insert((msg.session, msg.conversation_id));
        Ok(view)
    }
}

impl Handler<UnwatchConversation> for CustomerActor {
    type Result = ();

    fn handle(&mut self, msg: UnwatchConversation, _: &mut Context<Self>) {
        self.watchers
            .retain(|(s, c)| *s != msg.session || msg.conversation_id.is_some_and(|id| id != *c));
    }
}
