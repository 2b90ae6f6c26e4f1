//! Files over REST: `POST /api/v1/customers/{id}/files` stores one file for a customer
//! (the body is the bytes, `Content-Type` their type, `?name=` the file name) and
//! answers its id; a chat or agent `message` frame then names it in `files`.
//! `GET /api/v1/customers/{id}/files/{file}` serves it back. `GET /files/{customer}/
//! {file}?exp=&sig=` serves it to a provider holding a signed, expiring link
//! (`channels::file_links`).
//!
//! Who may: the staff allowed to see the customer (`super::access`), and the visitor
//! whose token leads to that customer (merged records included: a file of a record
//! merged into the visitor's customer is theirs too). Anyone else: 401 or 403.
//!
//! What is stored passes `domain::attachment::FilePolicy` (`[attachments]`): size
//! (read no further than the limit: 413 `too_large`), type allow-list, bytes that match
//! the type, a clean name. What is served carries its stored type, `nosniff`, a
//! sandboxing CSP, and `inline` only for images, PDF, audio, video and plain text
//! (anything else is a download); the name is RFC 5987-encoded. docs/attachments.md.

use super::error::ApiError;
use super::extract::{bearer_token, staff_from_token, Staff};
use super::AppState;
use crate::auth::Claims;
use crate::domain::{attachment, BlobId, CustomerId, ErrorCode};
use crate::Server;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

/// Who asks for a customer's file.
enum Caller {
    Staff(Staff),
    /// A visitor: the customer their token leads to now.
    Visitor(CustomerId),
}

/// The staff member or visitor of the request's Bearer token.
async fn caller(server: &Server, req: &HttpRequest) -> Result<Caller, ApiError> {
    let token = bearer_token(req)?;
    match server.tokens.verify(token, server.now()) {
        Ok(Claims::Visitor { customer, .. }) => {
            let id = CustomerId::parse(&customer)
                .map_err(|_| ApiError::unauthorized("bad visitor token"))?;
            let id = super::ws_routes::survivor_of(server, id).await?;
            if server.is_erased(id).await.map_err(ApiError::from)? {
                return Err(ApiError::unauthorized(
                    "visitor token of an erased customer",
                ));
            }
            Ok(Caller::Visitor(id))
        }
        Ok(Claims::Staff { .. }) => Ok(Caller::Staff(staff_from_token(server, token).await?)),
        Err(e) => Err(ApiError::unauthorized(e.to_string())),
    }
}

/// `caller` may read or add files of customer `id`: staff who may see it (or the
/// customer it was merged into), a visitor whose customer it is (or was merged into).
async fn allowed(server: &Server, caller: &Caller, id: CustomerId) -> Result<(), ApiError> {
    let survivor = super::ws_routes::survivor_of(server, id).await?;
    match caller {
        Caller::Visitor(own) if *own == survivor => Ok(()),
        Caller::Visitor(_) => Err(ApiError::forbidden("not your file")),
        Caller::Staff(staff) => match super::access::customer(server, staff, id).await {
            Ok(()) => Ok(()),
            Err(e) if survivor == id => Err(e),
            Err(_) => super::access::customer(server, staff, survivor).await,
        },
    }
}

/// `?name=` of an upload.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file name shown and offered for download (paths and control characters are
    /// removed).
    pub name: Option<String>,
}

/// A stored file: what a message frame names in `files`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FileView {
    /// The SHA-256 of the bytes, lowercase hex.
    pub file: String,
    pub customer_id: String,
    pub content_type: String,
    pub name: Option<String>,
    pub size: u64,
    /// `image`, `audio`, `video` or `file`.
    pub kind: String,
}

/// Stores one file for a customer (staff who may see the customer, or the customer's
/// own visitor token). Storing the same bytes again answers the same file.
#[utoipa::path(post, path = "/api/v1/customers/{id}/files", tag = "customers",
    operation_id = "upload_file",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "customer id"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "the file's bytes; `Content-Type` is its MIME type"),
    responses(
        (status = 201, description = "stored", body = FileView),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 413, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<UploadQuery>,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let server = &state.server;
    let id = CustomerId::parse(&path)?;
    let who = caller(server, &req).await?;
    allowed(server, &who, id).await?;
    if server.store.customer(id).await?.is_none() {
        return Err(ApiError::not_found("customer"));
    }
    let policy = &server.settings.attachments;
    let declared = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    // Read no further than the limit: a larger body is refused without holding it.
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid(format!("cannot read the body: {e}")))?;
        if (bytes.len() + chunk.len()) as u64 > policy.max_bytes {
            crate::metrics::file_refused("too_large");
            return Err(ApiError::new(
                ErrorCode::TooLarge,
                format!("files are at most {} bytes", policy.max_bytes),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    let accepted = policy
        .accept(&declared, query.name.as_deref(), &bytes)
        .map_err(|e| {
            let (code, why) = match e {
                attachment::FileRefused::TooLarge { .. } => (ErrorCode::TooLarge, "too_large"),
                attachment::FileRefused::Type(_) => (ErrorCode::Invalid, "type"),
                attachment::FileRefused::Mismatch(_) => (ErrorCode::Invalid, "mismatch"),
                _ => (ErrorCode::Invalid, "invalid"),
            };
            crate::metrics::file_refused(why);
            ApiError::new(code, e.to_string())
        })?;
    let meta = server
        .engine
        .blobs
        .put(
            id,
            &accepted.content_type,
            accepted.name.as_deref(),
            bytes,
            server.now(),
        )
        .await?;
    crate::metrics::file_stored(meta.size);
    Ok(HttpResponse::Created().json(FileView {
        file: meta.id.to_string(),
        customer_id: id.to_string(),
        kind: attachment::kind_of(&meta.content_type).to_owned(),
        content_type: meta.content_type,
        name: meta.name,
        size: meta.size,
    }))
}

/// One stored file of a customer, with its type; shown inline only if it is an image,
/// PDF, audio, video or plain text.
#[utoipa::path(get, path = "/api/v1/customers/{id}/files/{file}", tag = "customers",
    operation_id = "download_file",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "the customer the file belongs to (an event's `customer_id`)"),
        ("file" = String, Path, description = "the file id (SHA-256)"),
    ),
    responses(
        (status = 200, description = "the bytes"),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
pub async fn download(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let server = &state.server;
    let (id, file) = path.into_inner();
    let id = CustomerId::parse(&id)?;
    let file = BlobId::parse(&file)?;
    let who = caller(server, &req).await?;
    allowed(server, &who, id).await?;
    serve(server, id, &file, "same-origin").await
}

/// The query of a signed file link (`channels::file_links`).
#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    exp: i64,
    sig: String,
}

/// `GET /files/{customer}/{file}?exp=..&sig=..`: a stored file, to whoever holds a
/// link the engine signed for a provider that fetches an agent's file itself
/// (Messenger, Instagram, Twilio MMS) and that has not expired; anyone else gets 403.
/// Not under `/api/v1`: the provider carries no token.
pub async fn by_link(
    state: web::Data<AppState>,
    gateway: web::Data<crate::channels::Gateway>,
    path: web::Path<(String, String)>,
    q: web::Query<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let server = &state.server;
    let (id, file) = path.into_inner();
    let id = CustomerId::parse(&id)?;
    let file = BlobId::parse(&file)?;
    if !gateway
        .file_link_key
        .verify(id, &file, q.exp, &q.sig, server.now())
    {
        return Err(ApiError::forbidden(
            "this file link is not valid or has expired",
        ));
    }
    serve(server, id, &file, "cross-origin").await
}

/// The bytes of `file` of `id` with their stored type, shown inline only if an
/// image, PDF, audio, video or plain text, sandboxed, with Cross-Origin-Resource-
/// Policy `corp`.
async fn serve(
    server: &Server,
    id: CustomerId,
    file: &BlobId,
    corp: &'static str,
) -> Result<HttpResponse, ApiError> {
    let (meta, bytes) = server
        .engine
        .blobs
        .read(id, file)
        .await?
        .ok_or_else(|| ApiError::not_found("file"))?;
    let disposition = if attachment::served_inline(&meta.content_type) {
        "inline"
    } else {
        "attachment"
    };
    let name = meta.name.as_deref().unwrap_or("file");
    Ok(HttpResponse::Ok()
        .content_type(meta.content_type.as_str())
        .insert_header((
            "Content-Disposition",
            format!("{disposition}; filename*=UTF-8''{}", rfc5987(name)),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        ))
        .insert_header(("Cross-Origin-Resource-Policy", corp))
        .insert_header(("Cache-Control", "private, max-age=3600, immutable"))
        .body(bytes))
}

/// `name` percent-encoded for `filename*=UTF-8''` (RFC 5987: attr-chars stay).
fn rfc5987(name: &str) -> String {
    use std::fmt::Write;
    name.bytes().fold(String::new(), |mut s, b| {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            s.push(b as char);
        } else {
            let _ = write!(s, "%{b:02X}");
        }
        s
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_percent_encoded_for_the_header() {
        assert_eq!(super::rfc5987("a b;\"é.pdf"), "a%20b%3B%22%C3%A9.pdf");
    }
}
