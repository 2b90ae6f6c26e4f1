//! The web-chat side of CSAT surveys: a `survey_answer` frame checked (score in range,
//! comment size) and handed to the customer actor; the reply frame is `survey_thanks`
//! or a typed `error` (`invalid` out of range, `conflict` already answered, `not_found`
//! no survey). Nothing is stored for a refused answer.

use super::protocol::{ChatServerMsg, WireError};
use crate::actors::customer::survey::AnswerSurvey;
use crate::domain::{Channel, ConversationId, CustomerId};
use crate::Server;

/// Answers the survey of `conversation` for `customer`; returns the frame to send.
pub async fn answer(
    server: Server,
    customer: CustomerId,
    conversation: ConversationId,
    score: i64,
    comment: Option<String>,
) -> ChatServerMsg {
    let reference = Some(conversation.to_string());
    let score = match crate::survey::check_score(score, crate::survey::SCALE_MAX) {
        Ok(s) => s,
        Err(m) => {
            return ChatServerMsg::Error(WireError {
                code: super::protocol::ErrorCode::Invalid,
                message: m,
                reference,
                event_id: None,
            })
        }
    };
    let comment = comment
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let msg = AnswerSurvey {
        conversation_id: conversation,
        score,
        comment,
        channel: Channel::Chat,
        secret: None,
    };
    match server.ask_customer(customer, msg).await {
        Ok(_) => ChatServerMsg::SurveyThanks {
            conversation_id: conversation,
            score,
        },
        Err(e) => ChatServerMsg::Error(WireError {
            code: e.code,
            message: e.message,
            reference,
            event_id: e.event_id,
        }),
    }
}
