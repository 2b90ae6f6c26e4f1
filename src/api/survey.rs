//! CSAT survey edge: the email survey page (`GET`/`POST /survey/{token}`, a small HTML
//! form served by the engine), its JSON twin (`POST /api/v1/surveys/{token}`, no staff
//! token: the unguessable single-use link token is the credential) and the staff view
//! of a conversation's survey (`GET /api/v1/conversations/{id}/survey`). Admins read
//! and change the survey settings in force (`GET`/`PUT /api/v1/survey-settings`,
//! versioned: `switchboard_engine::actors::survey_config`).
//!
//! The pages are `templates/survey/*.html` (askama, autoescaped), sent by
//! [`super::html::page`].
//!
//! A token is `{conversation id}.{128-bit secret}`; the secret is stored in the
//! conversation's `survey` record and spent by the answer. Bad input (score out of
//! range, comment too long) is a typed 400 and stores nothing; a second answer is 409.

use super::error::ApiError;
use super::extract::Staff;
use super::{html, AppState};
use crate::actors::customer::survey::AnswerSurvey;
use crate::domain::ErrorCode;
use crate::domain::{Channel, ConversationId};
use crate::survey::{self, Language, SurveyRecord, SurveyStatus};
use crate::Server;
use actix_web::{http::StatusCode, web, HttpResponse};
use askama::Template;
use serde::{Deserialize, Serialize};

/// An answer from the JSON API or the HTML form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerIn {
    /// 1 to 5 (a number, or a string holding one).
    // Kept as a JSON value so that "abc" is a typed `invalid`, not a JSON error.
    #[schema(value_type = u8, minimum = 1, maximum = 5)]
    pub score: serde_json::Value,
    /// At most `surveys.max_comment_bytes`.
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
async fn record_for(server: &Server, token: &str) -> Result<SurveyRecord, ApiError> {
    let (conv, secret) = survey::split_token(token).ok_or_else(|| ApiError::not_found("survey"))?;
    let raw = server
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

async fn answer(server: &Server, token: &str, body: AnswerIn) -> Result<SurveyRecord, ApiError> {
    let score = parse_score(&body.score)?;
    let comment = body
        .comment
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let max = server.survey().max_comment_bytes;
    if comment.as_ref().is_some_and(|c| c.len() > max) {
        return Err(ApiError::invalid(format!(
            "comment longer than {max} bytes"
        )));
    }
    let rec = record_for(server, token).await?;
    let secret = token.split_once('.').map(|(_, s)| s.to_owned());
    let rec = server
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

/// Answer a CSAT survey from its email link token (no staff token).
///
/// The unguessable single-use link token is the credential. A second answer is 409.
#[utoipa::path(post, path = "/api/v1/surveys/{token}", tag = "engagement",
    params(("token" = String, Path, description = "the survey link's token")),
    request_body = AnswerIn,
    responses(
        (status = 200, description = "the answered survey"),
        (status = 400, response = ApiError),
        (status = 404, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn answer_json(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<AnswerIn>,
) -> Result<HttpResponse, ApiError> {
    let rec = answer(&state.server, &path, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view(rec)))
}

/// The conversation's CSAT survey (staff who may read the conversation).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/survey", tag = "engagement",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "conversation id")),
    responses(
        (status = 200, description = "the survey (without its link secret)"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
    )
)]
pub async fn of_conversation(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = ConversationId::parse(&path)?;
    super::access::readable_conversation(&state.server, &staff, id).await?;
    let raw = state
        .server
        .store
        .record(survey::KIND, &id.to_string())
        .await?
        .ok_or_else(|| ApiError::not_found("survey"))?;
    let rec: SurveyRecord = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("survey record: {e}")))?;
    Ok(HttpResponse::Ok().json(view(rec)))
}

// ------------------------------------------------------------------ HTML page

/// The survey pages' Content-Security-Policy: inline style, forms post back here.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

/// `templates/survey/form.html`.
#[derive(Template)]
#[template(path = "survey/form.html")]
struct FormPage<'a> {
    lang: &'a str,
    title: &'a str,
    question: &'a str,
    comment_label: &'a str,
    send: &'a str,
    scale_max: u8,
    max_comment_bytes: usize,
}

/// `templates/survey/result.html`: `code` is `ok` or the error code.
#[derive(Template)]
#[template(path = "survey/result.html")]
struct ResultPage<'a> {
    lang: &'a str,
    title: &'a str,
    code: &'a str,
    text: &'a str,
}

fn title(lang: Language) -> &'static str {
    match lang {
        Language::Ja => "アンケート",
        Language::En => "Survey",
    }
}

fn result_page(status: StatusCode, lang: Language, code: &str, text: &str) -> HttpResponse {
    let page = ResultPage {
        lang: lang.as_str(),
        title: title(lang),
        code,
        text,
    };
    html::page(status, CSP, &page)
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
    let code = format!("{:?}", e.code);
    result_page(super::error::status_of(e.code), lang, &code, text)
}

/// `GET /survey/{token}`: the form.
pub async fn form(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let default = Language::parse(&state.server.survey().default_language).unwrap_or(Language::Ja);
    let rec = match record_for(&state.server, &path).await {
        Ok(r) => r,
        Err(e) => return error_page(&e, default),
    };
    let lang = rec.language;
    let (question, comment_label, send) = match lang {
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
    let page = FormPage {
        lang: lang.as_str(),
        title: title(lang),
        question,
        comment_label,
        send,
        scale_max: rec.scale_max,
        max_comment_bytes: state.server.survey().max_comment_bytes,
    };
    html::page(StatusCode::OK, CSP, &page)
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
        Err(_) => Language::parse(&state.server.survey().default_language).unwrap_or(Language::Ja),
    };
    let body = AnswerIn {
        score: serde_json::Value::String(form.score),
        comment: form.comment,
    };
    let res = answer(&state.server, &path, body).await;
    let lang = lang_of(&res);
    match res {
        Ok(_) => {
            let thanks = match lang {
                Language::Ja => "ご回答ありがとうございました。",
                Language::En => "Thank you for your answer!",
            };
            result_page(StatusCode::OK, lang, "ok", thanks)
        }
        Err(e) => error_page(&e, lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = r#"<script>alert("x")</script>' & "#;
    const ESCAPED: &str = "&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#39; &#38; ";

    #[test]
    fn interpolated_values_are_escaped() {
        let page = ResultPage {
            lang: "en",
            title: HOSTILE,
            code: HOSTILE,
            text: HOSTILE,
        }
        .render()
        .unwrap();
        assert!(!page.contains("<script>"), "{page}");
        assert!(
            page.contains(&format!("<title>{ESCAPED}</title>")),
            "{page}"
        );
        assert!(
            page.contains(&format!(r#"data-code="{ESCAPED}">{ESCAPED}</p>"#)),
            "{page}"
        );
        let form = FormPage {
            lang: "\"><script>",
            title: "t",
            question: HOSTILE,
            comment_label: HOSTILE,
            send: HOSTILE,
            scale_max: 5,
            max_comment_bytes: 1000,
        }
        .render()
        .unwrap();
        assert!(!form.contains("<script>"), "{form}");
        assert!(form.contains(r#"<html lang="&#34;&#62;&#60;script&#62;">"#));
        assert_eq!(form.matches(ESCAPED).count(), 3, "{form}");
    }

    #[test]
    fn the_form_has_one_choice_per_score() {
        let form = FormPage {
            lang: "ja",
            title: title(Language::Ja),
            question: "q",
            comment_label: "c",
            send: "s",
            scale_max: 5,
            max_comment_bytes: 1000,
        }
        .render()
        .unwrap();
        assert_eq!(form.matches(r#"type="radio""#).count(), 5);
        assert!(form.contains(r#"value="5" required> 5</label>"#));
        assert!(form.contains(r#"maxlength="1000""#));
        assert!(form.contains("<title>アンケート</title>"));
    }
}

/// The survey settings in force (admin): `{settings: {enabled, answer_window_ms,
/// max_comment_bytes, default_language}, version, saved_by, saved_at}`; version 0 is
/// the configuration file's `[survey]`.
#[utoipa::path(get, path = "/api/v1/survey-settings", tag = "engagement", operation_id = "get_survey_settings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{settings, version, saved_by, saved_at}`"),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
    )
)]
pub async fn get_settings(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    staff.require_admin()?;
    Ok(HttpResponse::Ok().json(&*state.server.survey_config()))
}

/// `PUT /api/v1/survey-settings`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsSave {
    /// The version the edit started from: it must still be the newest.
    version: u64,
    settings: serde_json::Value,
}

/// Changes the survey settings in force on every node (admin).
///
/// Body `{version, settings: {enabled, answer_window_ms, max_comment_bytes,
/// default_language}}` (a field left out takes its default). `version` must still be
/// the newest (409 `conflict` otherwise); bad fields are 400 with `fields` naming each
/// (`answer_window_ms` 1 ms to 30 days, `max_comment_bytes` 1 to 65536,
/// `default_language` `ja` or `en`), and nothing changes. Applies to conversations
/// resolved from then on.
#[utoipa::path(put, path = "/api/v1/survey-settings", tag = "engagement", operation_id = "put_survey_settings",
    security(("bearer" = [])),
    request_body(content = Object, description = "`{version, settings}`"),
    responses(
        (status = 200, description = "`{settings, version, saved_by, saved_at}` as saved"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 409, response = ApiError),
    )
)]
pub async fn put_settings(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    staff: Staff,
    body: web::Json<SettingsSave>,
) -> Result<HttpResponse, ApiError> {
    use switchboard_engine::actors::survey_config::SurveySaveError;
    staff.require_admin()?;
    let body = body.into_inner();
    // Each field parsed alone, so one wrong type cannot hide another.
    let obj = body
        .settings
        .as_object()
        .ok_or_else(|| ApiError::invalid("settings must be a JSON object"))?;
    let mut fields = std::collections::BTreeMap::new();
    for (k, v) in obj {
        if let Err(e) =
            serde_json::from_value::<survey::SurveySettings>(serde_json::json!({ k.as_str(): v }))
        {
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
            fields.insert(k.clone(), msg);
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::fields(fields));
    }
    let settings: survey::SurveySettings =
        serde_json::from_value(body.settings).map_err(|e| ApiError::invalid(e.to_string()))?;
    let before = state.server.survey_config();
    let saved = state
        .server
        .survey_save(body.version, settings, staff.id.as_str())
        .await
        .map_err(|e| match e {
            SurveySaveError::Fields(f) => {
                ApiError::fields(f.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }
            SurveySaveError::Conflict { current } => ApiError::new(
                ErrorCode::Conflict,
                format!("version {current} was saved since this edit began: reload and edit it"),
            ),
            SurveySaveError::Store(e) => ApiError::from(e),
        })?;
    super::audit_trail::record_change(
        &req,
        Some(serde_json::to_value(&*before).unwrap_or_default()),
        serde_json::to_value(&saved).unwrap_or_default(),
    );
    Ok(HttpResponse::Ok().json(saved))
}
