//! CSAT survey edge: the email survey page (`GET`/`POST /survey/{token}`, a small HTML
//! form served by the engine), its JSON twin (`POST /api/v1/surveys/{token}`, no staff
//! token: the unguessable single-use link token is the credential) and the staff view
//! of a conversation's survey (`GET /api/v1/conversations/{id}/survey`).
//!
//! A token is `{conversation id}.{128-bit secret}`; the secret is stored in the
//! conversation's `survey` record and spent by the answer. Bad input (score out of
//! range, comment too long) is a typed 400 and stores nothing; a second answer is 409.

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::actors::customer::survey::AnswerSurvey;
use crate::actors::Engine;
use crate::domain::{Channel, ConversationId};
use crate::survey::{self, Language, SurveyRecord, SurveyStatus};
use crate::ws::protocol::ErrorCode;
use actix_web::{http::StatusCode, web, HttpResponse};
use serde::{Deserialize, Serialize};

/// An answer from the JSON API or the HTML form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerIn {
    /// Kept as a string so that "abc" is a typed `invalid`, not a JSON error.
    pub score: serde_json::Value,
    #[serde(default)]
    pub comment: Option<String>,
}

/// What the REST API shows of a survey (never the link's secret).
#[derive(Debug, Serialize)]
pub struct SurveyView {
    #[serde(flatten)]
    pub record: SurveyRecord,
}

fn view(mut r: SurveyRecord) -> SurveyView {
    r.secret = None;
    SurveyView { record: r }
}

/// The survey a token names, if its secret matches and it is not answered.
async fn record_for(engine: &Engine, token: &str) -> Result<SurveyRecord, ApiError> {
    let (conv, secret) = survey::split_token(token).ok_or_else(|| ApiError::not_found("survey"))?;
    let raw = engine
        .store
        .record(survey::KIND, &conv.to_string())
        .await?
        .ok_or_else(|| ApiError::not_found("survey"))?;
    let rec: SurveyRecord = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("survey record: {e}")))?;
    if rec.status == SurveyStatus::Answered {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this survey was already answered",
        ));
    }
    match &rec.secret {
        Some(s) if survey::same_secret(s, secret) => Ok(rec),
        _ => Err(ApiError::not_found("survey")),
    }
}

fn parse_score(v: &serde_json::Value) -> Result<u8, ApiError> {
    let n = match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => match survey::parse_answer(s, survey::SCALE_MAX) {
            survey::Answer::Score {
                score,
                comment: None,
            } => Some(i64::from(score)),
            _ => None,
        },
        _ => None,
    };
    n.ok_or(())
        .and_then(|n| survey::check_score(n, survey::SCALE_MAX).map_err(|_| ()))
        .map_err(|()| {
            ApiError::invalid(format!(
                "score must be an integer from 1 to {}",
                survey::SCALE_MAX
            ))
        })
}

async fn answer(engine: &Engine, token: &str, body: AnswerIn) -> Result<SurveyRecord, ApiError> {
    let score = parse_score(&body.score)?;
    let comment = body
        .comment
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let max = engine.settings.surveys.max_comment_bytes;
    if comment.as_ref().is_some_and(|c| c.len() > max) {
        return Err(ApiError::invalid(format!(
            "comment longer than {max} bytes"
        )));
    }
    let rec = record_for(engine, token).await?;
    let secret = token.split_once('.').map(|(_, s)| s.to_owned());
    let rec = engine
        .ask_customer(
            rec.customer_id,
            AnswerSurvey {
                conversation_id: rec.conversation_id,
                score,
                comment,
                channel: Channel::Email,
                secret,
            },
        )
        .await?;
    Ok(rec)
}

/// `POST /api/v1/surveys/{token}` `{score, comment?}`.
pub async fn answer_json(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<AnswerIn>,
) -> Result<HttpResponse, ApiError> {
    let rec = answer(&state.engine, &path, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view(rec)))
}

/// `GET /api/v1/conversations/{id}/survey` (staff who may read the conversation).
pub async fn of_conversation(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = ConversationId::parse(&path)?;
    super::access::readable_conversation(&state.engine, &staff, id).await?;
    let raw = state
        .engine
        .store
        .record(survey::KIND, &id.to_string())
        .await?
        .ok_or_else(|| ApiError::not_found("survey"))?;
    let rec: SurveyRecord = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("survey record: {e}")))?;
    Ok(HttpResponse::Ok().json(view(rec)))
}

// ------------------------------------------------------------------ HTML page

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, lang: Language, body: &str) -> HttpResponse {
    let title = match lang {
        Language::Ja => "アンケート",
        Language::En => "Survey",
    };
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ))
        .body(format!(
            "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title>\
<style>body{{font-family:sans-serif;max-width:30em;margin:2em auto;padding:0 1em}}label{{margin-right:1em}}textarea{{width:100%}}</style></head><body>{body}</body></html>",
            lang.as_str()
        ))
}

fn error_page(e: &ApiError, lang: Language) -> HttpResponse {
    let text = match (e.code, lang) {
        (ErrorCode::Conflict, Language::Ja) => {
            "このアンケートには回答済みです。ありがとうございました。"
        }
        (ErrorCode::Conflict, Language::En) => "This survey was already answered. Thank you!",
        (ErrorCode::Invalid, Language::Ja) => "1〜5の中から一つ選んでください。",
        (ErrorCode::Invalid, Language::En) => "Please choose a score from 1 to 5.",
        (_, Language::Ja) => "このリンクは無効です。",
        (_, Language::En) => "This link is not valid.",
    };
    page(
        super::error::status_of(e.code),
        lang,
        &format!(
            "<p id=\"result\" data-code=\"{}\">{}</p>",
            esc(&format!("{:?}", e.code)),
            esc(text)
        ),
    )
}

/// `GET /survey/{token}`: the form.
pub async fn form(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let default =
        Language::parse(&state.engine.settings.surveys.default_language).unwrap_or(Language::Ja);
    let rec = match record_for(&state.engine, &path).await {
        Ok(r) => r,
        Err(e) => return error_page(&e, default),
    };
    let lang = rec.language;
    let (q, c, send) = match lang {
        Language::Ja => (
            "本日の対応はいかがでしたか？（1 = 不満、5 = 満足）",
            "ご意見（任意）",
            "送信",
        ),
        Language::En => (
            "How did we do? (1 = poor, 5 = excellent)",
            "Comment (optional)",
            "Send",
        ),
    };
    let radios: String = (1..=rec.scale_max)
        .map(|n| {
            format!(
                "<label><input type=\"radio\" name=\"score\" value=\"{n}\" required> {n}</label>"
            )
        })
        .collect();
    page(
        StatusCode::OK,
        lang,
        &format!(
            "<form method=\"post\"><p>{q}</p><p>{radios}</p><p><label for=\"comment\">{c}</label><br><textarea id=\"comment\" name=\"comment\" rows=\"4\" maxlength=\"{}\"></textarea></p><p><button type=\"submit\">{send}</button></p></form>",
            state.engine.settings.surveys.max_comment_bytes
        ),
    )
}

/// The HTML form's fields.
#[derive(Debug, Deserialize)]
pub struct FormIn {
    #[serde(default)]
    pub score: String,
    #[serde(default)]
    pub comment: Option<String>,
}

/// `POST /survey/{token}` (form): stores the answer, then a thank-you page.
pub async fn submit(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<FormIn>,
) -> HttpResponse {
    let form = form.into_inner();
    let lang_of = |r: &Result<SurveyRecord, ApiError>| match r {
        Ok(rec) => rec.language,
        Err(_) => {
            Language::parse(&state.engine.settings.surveys.default_language).unwrap_or(Language::Ja)
        }
    };
    let body = AnswerIn {
        score: serde_json::Value::String(form.score),
        comment: form.comment,
    };
    let res = answer(&state.engine, &path, body).await;
    let lang = lang_of(&res);
    match res {
        Ok(_) => page(
            StatusCode::OK,
            lang,
            match lang {
                Language::Ja => {
                    "<p id=\"result\" data-code=\"ok\">ご回答ありがとうございました。</p>"
                }
                Language::En => "<p id=\"result\" data-code=\"ok\">Thank you for your answer!</p>",
            },
        ),
        Err(e) => error_page(&e, lang),
    }
}
