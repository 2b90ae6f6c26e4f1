//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the REST API, written by
//! hand next to the handlers it describes (a test checks every route is listed).

use actix_web::HttpResponse;
use serde_json::{json, Value};

fn bearer_get(summary: &str, params: Value) -> Value {
    json!({"get": {"summary": summary, "security": [{"bearer": []}], "parameters": params,
        "responses": {"200": {"description": "OK"}, "401": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"}}}})
}

/// A bearer-authenticated POST taking a JSON object with `required` string fields.
fn bearer_post(summary: &str, params: Value, required: &[&str]) -> Value {
    let props: serde_json::Map<String, Value> = required
        .iter()
        .map(|r| (r.to_string(), json!({"type": "string"})))
        .collect();
    json!({"post": {"summary": summary, "security": [{"bearer": []}], "parameters": params,
        "requestBody": {"required": true, "content": {"application/json": {"schema":
            {"type": "object", "required": required, "properties": props}}}},
        "responses": {"200": {"description": "OK"}, "201": {"description": "Created"},
                      "400": {"$ref": "#/components/responses/Error"},
                      "401": {"$ref": "#/components/responses/Error"},
                      "404": {"$ref": "#/components/responses/Error"},
                      "409": {"$ref": "#/components/responses/Error"}}}})
}

fn id_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
}

/// `GET /api/v1/reports` (docs/api.md, docs/metrics.md).
fn reports_path() -> Value {
    json!({"get": {"summary": "Historical report rows (supervisor, admin): per bucket and group, offered, handled, abandoned, service level, ASA, AHT, wait percentiles, transfers, channel switches, FCR, CSAT. Definitions: docs/metrics.md",
            "security": [{"bearer": []}],
            "parameters": [
              {"name": "from", "in": "query", "required": true, "schema": {"type": "integer"}, "description": "inclusive start, UTC ms"},
              {"name": "to", "in": "query", "required": true, "schema": {"type": "integer"}, "description": "exclusive end, UTC ms"},
              {"name": "interval", "in": "query", "required": true, "schema": {"type": "string", "enum": ["15m","hour","day","week","month"]}},
              {"name": "group", "in": "query", "required": true, "schema": {"type": "string", "enum": ["queue","channel","agent"]}},
              {"name": "queue", "in": "query", "schema": {"type": "string"}, "description": "count only this queue"},
              {"name": "thresholds", "in": "query", "schema": {"type": "string"}, "description": "comma-separated service-level thresholds, seconds"},
              {"name": "utc_offset_minutes", "in": "query", "schema": {"type": "integer", "minimum": -720, "maximum": 840}},
              {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json","csv"]}, "description": "or Accept: text/csv"}],
            "responses": {"200": {"description": "{from, to, interval, group, thresholds_seconds, fcr_window_ms, utc_offset_minutes, rows: [...]} or text/csv"},
                          "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                          "503": {"$ref": "#/components/responses/Error"}}}})
}

/// The document.
pub fn document() -> Value {
    let mut doc = base();
    if let Some(paths) = doc["paths"].as_object_mut() {
        paths.extend(supervisor_paths());
        paths.extend(engagement_paths());
        paths.extend(super::kb::openapi_paths());
        paths.extend(ivr_paths());
    }
    doc
}

/// Surveys and notifications (docs/engagement.md).
fn engagement_paths() -> serde_json::Map<String, Value> {
    let err = json!({"$ref": "#/components/responses/Error"});
    let rule = json!({
        "get": bearer_get("A notification rule (supervisor, admin)", json!([id_param("type")]))["get"].clone(),
        "put": {"summary": "Create or replace a notification rule: templates per language (ja, en), subjects, variables, channels; templates parsed at save time (supervisor, admin)",
                "security": [{"bearer": []}], "parameters": [id_param("type")],
                "responses": {"200": {"description": "the rule"}, "400": err, "401": err, "403": err}},
        "delete": {"summary": "Delete a notification rule (supervisor, admin)", "security": [{"bearer": []}],
                   "parameters": [id_param("type")], "responses": {"204": {"description": "deleted"}, "404": err}}
    });
    let public_post = |summary: &str| {
        json!({"post": {"summary": summary, "parameters": [id_param("token")],
        "responses": {"200": {"description": "OK"}, "400": err, "404": err, "409": err}}})
    };
    let mut m = serde_json::Map::new();
    m.insert("/api/v1/events".into(), json!({"post": {"summary": "Report an event about a customer: {type, customer: {id|phone|email|line}, data, send_at?, idempotency_key?} → 202 {id, status: sent|scheduled|suppressed, channel?} (supervisor, admin)",
        "security": [{"bearer": []}], "responses": {"202": {"description": "the notification"}, "400": err, "401": err, "403": err, "404": err}}}));
    m.insert(
        "/api/v1/notification-rules".into(),
        bearer_get("Notification rules (supervisor, admin)", json!([])),
    );
    m.insert("/api/v1/notification-rules/{type}".into(), rule);
    m.insert(
        "/api/v1/notifications/{id}".into(),
        bearer_get(
            "A notification and its delivery status (supervisor, admin)",
            json!([id_param("id")]),
        ),
    );
    m.insert(
        "/api/v1/notifications-scheduler".into(),
        bearer_get(
            "Notification scheduler counters: ticks, last_tick_at, sent (supervisor, admin)",
            json!([]),
        ),
    );
    m.insert("/api/v1/surveys/{token}".into(), public_post("Answer a CSAT survey from its email link token: {score 1-5, comment?} (no staff token)"));
    m.insert(
        "/api/v1/conversations/{id}/survey".into(),
        bearer_get("The conversation's CSAT survey", json!([id_param("id")])),
    );
    m
}

/// The visual IVR and queued callbacks (docs/ivr.md).
fn ivr_paths() -> serde_json::Map<String, Value> {
    let error = || json!({"$ref": "#/components/responses/Error"});
    let mut m = serde_json::Map::new();
    m.insert("/api/v1/ivr".into(), json!({"get": {
        "summary": "The IVR menu tree with prompts and labels in Japanese and English (no token; cacheable); 404 when none is configured",
        "responses": {"200": {"description": "{root, menus: [{id, prompt: {ja, en}, options: [{key, phrases, label: {ja, en}, action}]}]}"}, "404": error()}}}));
    m.insert(
        "/api/v1/ivr/articles/{id}".into(),
        json!({"get": {
        "summary": "A knowledge-base article the IVR tree names (no token); any other id is 404",
        "parameters": [id_param("id")],
        "responses": {"200": {"description": "{id, title, body, language}"}, "404": error()}}}),
    );
    m.insert("/api/v1/callbacks".into(), json!({"post": {
        "summary": "Ask for a callback instead of waiting (staff for a customer they may see, or the visitor's own chat token): the waiting conversation keeps its place, else a new voice conversation joins the queue",
        "security": [{"bearer": []}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["phone"],
            "properties": {"customer_id": {"type": "string"}, "phone": {"type": "string", "description": "E.164"},
                           "queue": {"type": "string"}, "note": {"type": "string"},
                           "ivr_path": {"type": "array", "items": {"type": "string"}}}}}}},
        "responses": {"201": {"description": "{conversation_id, customer_id, queue, phone}"}, "400": error(), "401": error(),
                      "403": error(), "404": error(), "409": error()}}}));
    m.insert("/api/v1/callbacks/{id}/outcome".into(), json!({"post": {
        "summary": "The holding agent reports a callback dial: reached, no_answer or busy (retried after callbacks.retry_delay_ms up to callbacks.max_attempts)",
        "security": [{"bearer": []}],
        "parameters": [id_param("id")],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["outcome"],
            "properties": {"outcome": {"type": "string", "enum": ["reached", "no_answer", "busy"]}}}}}},
        "responses": {"200": {"description": "{conversation_id, attempt, outcome, next, retry_at?}"}, "400": error(), "401": error(),
                      "403": error(), "404": error(), "409": error()}}}));
    m
}

/// `/ws/supervisor` and `/api/v1/supervisor/*` (docs/supervisor.md).
fn supervisor_paths() -> serde_json::Map<String, Value> {
    let error = || json!({"$ref": "#/components/responses/Error"});
    let body = |props: Value, required: &[&str]| {
        json!({"required": true, "content": {"application/json": {"schema":
            {"type": "object", "required": required, "properties": props}}}})
    };
    let queues_param = json!([{"name": "queues", "in": "query", "schema": {"type": "string"},
        "description": "comma-separated queue names (default: every queue)"}]);
    let mut m = serde_json::Map::new();
    m.insert("/ws/supervisor".into(), json!({"get": {
        "summary": "Supervisor live-metrics websocket (token and optional queues query parameters; supervisor or admin role); see docs/protocol.md",
        "parameters": queues_param,
        "responses": {"101": {"description": "upgrade"}, "400": error(), "401": error(), "503": error()}}}));
    m.insert("/api/v1/supervisor/live".into(), bearer_get(
        "Live figures per queue and agent (the same as a /ws/supervisor snapshot; supervisor, admin)", queues_param.clone()));
    m.insert(
        "/api/v1/supervisor/subscribers".into(),
        bearer_get(
            "The live hub's supervisor sockets and their flow-control state (supervisor, admin)",
            json!([]),
        ),
    );
    m.insert("/api/v1/supervisor/agents/{id}/status".into(), json!({"post": {
        "summary": "Set a logged-in agent available or away (supervisor, admin)", "security": [{"bearer": []}],
        "parameters": [id_param("id")],
        "requestBody": body(json!({"status": {"type": "string", "enum": ["available", "away"]},
                                   "reason": {"type": "string", "maxLength": 100}}), &["status"]),
        "responses": {"202": {"description": "applied"}, "400": error(), "401": error(), "404": error()}}}));
    m.insert("/api/v1/supervisor/agents/{id}/queues".into(), json!({"put": {
        "summary": "Set the queues an agent serves, applied at once (supervisor, admin)", "security": [{"bearer": []}],
        "parameters": [id_param("id")],
        "requestBody": body(json!({"queues": {"type": "array", "items": {"type": "string"}}}), &["queues"]),
        "responses": {"200": {"description": "agent_id, queues"}, "400": error(), "401": error(), "404": error()}}}));
    m.insert("/api/v1/supervisor/queues/{name}".into(), json!({"patch": {
        "summary": "Change a queue's priority and overflow, applied at once (supervisor, admin)", "security": [{"bearer": []}],
        "parameters": [id_param("name")],
        "requestBody": body(json!({"priority": {"type": "integer", "minimum": -100, "maximum": 100},
            "overflow": {"type": ["object", "null"], "properties": {"after_ms": {"type": "integer", "minimum": 1000, "maximum": 86400000},
                                                                    "to": {"type": "string"}}}}), &[]),
        "responses": {"200": {"description": "the queue config"}, "400": error(), "401": error(), "404": error()}}}));
    m
}

fn base() -> Value {
    let mut doc = json!({
      "openapi": "3.1.0",
      "info": {"title": "Switchboard", "version": env!("CARGO_PKG_VERSION"),
               "description": "Omnichannel contact-center engine. Websocket protocol: docs/protocol.md."},
      "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
          "Error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "enum": ["bad_json","unknown_type","too_large","invalid","not_found","not_yours","offer_not_found","queue_full","unavailable","unauthorized","forbidden","rate_limited","conflict","internal"]},
            "message": {"type": "string"}}}
        },
        "responses": {"Error": {"description": "Typed error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
      },
      "paths": {
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}},
        "/readyz": {"get": {"summary": "Readiness (store reachable, queues up)", "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}}}},
        "/metrics": {"get": {"summary": "Prometheus text exposition", "responses": {"200": {"description": "metrics"}}}},
        "/api/v1/login": {"post": {"summary": "Log in; returns a bearer token",
          "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["agent_id","password"],
             "properties": {"agent_id": {"type": "string"}, "password": {"type": "string"}}}}}},
          "responses": {"200": {"description": "token, agent_id, role, expires_at"}, "401": {"$ref": "#/components/responses/Error"},
                        "429": {"$ref": "#/components/responses/Error"}}}},
        "/api/v1/logout": {"post": {"summary": "Revoke every token of the caller and close its sockets (code 4001)",
          "security": [{"bearer": []}], "responses": {"204": {"description": "logged out"}, "401": {"$ref": "#/components/responses/Error"}}}},
        "/api/v1/audit": bearer_get("Audit log of privacy operations, newest first (admin)", json!([
            {"name": "before", "in": "query", "schema": {"type": "string"}}, {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}])),
        "/api/v1/customers/{id}/export": bearer_get("Everything about a customer as JSON: profile, identities, conversations, timeline (admin; audited)", json!([id_param("id")])),
        "/api/v1/customers/{id}/erase": {"post": {"summary": "Erase a customer's personal data: timeline, identities, profile and conversation personal fields (admin; audited); 409 while a conversation is open",
            "security": [{"bearer": []}], "parameters": [id_param("id")],
            "responses": {"200": {"description": "counts of what was erased"}, "403": {"$ref": "#/components/responses/Error"},
                          "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}}}},
        "/api/v1/inbound": {"post": {"summary": "Deliver a customer message from (channel, address); 202 once durable",
          "security": [{"bearer": []}],
          "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["channel","address","text"],
             "properties": {"channel": {"type": "string", "enum": ["chat","sms","email","voice","line","messenger","video"]},
                            "address": {"type": "string"}, "text": {"type": "string"},
                            "client_msg_id": {"type": "string", "maxLength": 128}, "queue": {"type": "string"}}}}}},
          "responses": {"202": {"description": "customer_id, conversation_id, event_id, duplicate, new_customer"},
                        "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                        "413": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
        "/api/v1/customers": {"post": {"summary": "Create a known customer (CRM import): display_name, priority, attributes, identities",
          "security": [{"bearer": []}], "responses": {"201": {"description": "the customer"}, "400": {"$ref": "#/components/responses/Error"}}},
          "get": bearer_get("The customer who owns identity (channel, address)", json!([
            {"name": "channel", "in": "query", "required": true, "schema": {"type": "string"}},
            {"name": "address", "in": "query", "required": true, "schema": {"type": "string"}}]))["get"].clone()},
        "/api/v1/customers/{id}": bearer_get("A customer", json!([id_param("id")])),
        "/api/v1/customers/{id}/timeline": bearer_get("A customer's timeline, newest first, paged", json!([id_param("id"),
            {"name": "before", "in": "query", "schema": {"type": "string"}}, {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}])),
        "/api/v1/customers/{id}/conversations": bearer_get("A customer's conversations", json!([id_param("id")])),
        "/api/v1/customers/{id}/identities": bearer_post("Link an identity to the customer (explicit link by staff); 409 if another customer owns it",
            json!([id_param("id")]), &["channel", "address"]),
        "/api/v1/customers/{id}/identities/{channel}/{address}": {"delete": {"summary": "Unlink an identity (supervisor, admin)",
            "security": [{"bearer": []}], "parameters": [id_param("id"), id_param("channel"), id_param("address")],
            "responses": {"200": {"description": "the customer"}, "401": {"$ref": "#/components/responses/Error"},
                          "404": {"$ref": "#/components/responses/Error"}}}},
        "/api/v1/customers/{id}/merge": bearer_post("Merge customer `other` into this one (identities move, timelines read as one)",
            json!([id_param("id")]), &["other"]),
        "/api/v1/customers/{id}/unmerge": bearer_post("Undo a merge: `other` gets its identities and timeline back",
            json!([id_param("id")]), &["other"]),
        "/api/v1/conversations/{id}": bearer_get("A conversation", json!([id_param("id")])),
        "/api/v1/conversations/{id}/trace": bearer_get("A conversation's routing trace", json!([id_param("id")])),
        "/api/v1/queues": bearer_get("Live snapshot of every queue", json!([])),
        "/api/v1/queues/{name}": {
            "get": bearer_get("Live snapshot of a queue", json!([id_param("name")]))["get"].clone(),
            "put": {"summary": "Create or update a queue's routing configuration (admin)", "security": [{"bearer": []}],
                    "responses": {"200": {"description": "the queue config"}, "400": {"$ref": "#/components/responses/Error"}}}},
        "/api/v1/agents": bearer_get("Agents with live state", json!([])),
        "/api/v1/agents/{id}": {
            "get": bearer_get("An agent with live state", json!([id_param("id")]))["get"].clone(),
            "put": {"summary": "Create or update an agent (admin)", "security": [{"bearer": []}],
                    "responses": {"200": {"description": "the agent"}, "400": {"$ref": "#/components/responses/Error"}}}},
        "/ws/agent": {"get": {"summary": "Agent websocket (token query parameter); see docs/protocol.md", "responses": {"101": {"description": "upgrade"}, "401": {"$ref": "#/components/responses/Error"}}}},
        "/ws/chat": {"get": {"summary": "Customer web-chat websocket (optional visitor token); see docs/protocol.md", "responses": {"101": {"description": "upgrade"}, "401": {"$ref": "#/components/responses/Error"}}}}
      }
    });
    doc["paths"]["/api/v1/reports"] = reports_path();
    assist_paths(&mut doc);
    doc
}

/// CRM and canned-response routes (docs/assist.md).
fn assist_paths(doc: &mut Value) {
    let err = json!({"$ref": "#/components/responses/Error"});
    let canned_body = json!({"required": true, "content": {"application/json": {"schema": {"type": "object",
        "required": ["title", "text", "language"],
        "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "text": {"type": "string"},
            "language": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
            "shortcut": {"type": "string"}, "version": {"type": "integer"}}}}}});
    doc["paths"]["/api/v1/customers/{id}/crm"] = bearer_get(
        "The customer's CRM attributes and recent orders: status ok, stale, unavailable or disabled",
        json!([id_param("id")]),
    );
    doc["paths"]["/api/v1/canned"] = json!({
        "get": {"summary": "Canned responses (filters: language, tag, q)", "security": [{"bearer": []}],
            "parameters": [{"name": "language", "in": "query", "schema": {"type": "string"}},
                {"name": "tag", "in": "query", "schema": {"type": "string"}},
                {"name": "q", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "{canned: [...]}"}, "401": err}},
        "post": {"summary": "Create a canned response (supervisor, admin)", "security": [{"bearer": []}],
            "requestBody": canned_body,
            "responses": {"201": {"description": "the canned response"}, "400": err, "403": err, "409": err}}});
    doc["paths"]["/api/v1/canned/{id}"] = json!({
        "get": {"summary": "A canned response", "security": [{"bearer": []}], "parameters": [id_param("id")],
            "responses": {"200": {"description": "the canned response"}, "404": err}},
        "put": {"summary": "Replace a canned response; `version` must be the current one (supervisor, admin)",
            "security": [{"bearer": []}], "parameters": [id_param("id")], "requestBody": canned_body,
            "responses": {"200": {"description": "the canned response"}, "400": err, "403": err, "404": err, "409": err}},
        "delete": {"summary": "Delete a canned response (supervisor, admin)", "security": [{"bearer": []}],
            "parameters": [id_param("id")], "responses": {"204": {"description": "deleted"}, "403": err, "404": err}}});
    doc["paths"]["/api/v1/canned/{id}/render"] = json!({
        "post": {"summary": "The response rendered for a conversation the caller may read", "security": [{"bearer": []}],
            "parameters": [id_param("id"), {"name": "conversation", "in": "query", "required": true, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "{id, text}"}, "400": err, "403": err, "404": err}}});
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(document())
}
