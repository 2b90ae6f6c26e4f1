//! Files that travel (docs/attachments.md) over real sockets: a visitor uploads a
//! file with their visitor token and sends it over the chat socket; the agent sees it
//! in the offer's conversation, downloads it with the served headers checked, and
//! sends a PDF back that the visitor downloads. Who may read a file (the customer's
//! staff and the customer, nobody else), what is refused at the door (size, type,
//! bytes that are not their type, an id that is no file of the customer, files on a
//! channel that carries none), retries of a message with files, and erasure.

use crate::channels::{channels_on, fb_post, fb_text, line_post, line_text, sms_in, PUBLIC};
use crate::helpers::*;
use crate::recorder::Recorder;
use serde_json::{json, Value};
use switchboard::domain::time::ManualClock;
use switchboard::domain::Millis;

/// A 1x1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A one-page PDF.
pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

/// `POST /api/v1/customers/{customer}/files` as `token`: (status, body).
pub async fn upload(
    app: &TestApp,
    token: &str,
    customer: &str,
    content_type: &str,
    name: &str,
    bytes: &[u8],
) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}/api/v1/customers/{customer}/files", app.base))
        .query(&[("name", name)])
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `GET` a file as `token` (none: no header): the response.
async fn download(
    app: &TestApp,
    token: Option<&str>,
    customer: &str,
    file: &str,
) -> reqwest::Response {
    let mut req = app.http.get(format!(
        "{}/api/v1/customers/{customer}/files/{file}",
        app.base
    ));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_and_an_agent_exchange_files_over_the_chat() {
    let app = spawn_app(|_| {}).await;
    let alice = app.agent("alice", &["general"], json!({})).await;
    let bob = app.agent("bob", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &alice).await;
    let (mut chat, welcome) = Client::visitor(&app).await;
    let customer = welcome["customer_id"].as_str().unwrap().to_owned();
    let visitor = welcome["token"].as_str().unwrap().to_owned();

    // The visitor uploads an image with their own token, then sends it alone.
    let (s, png) = upload(&app, &visitor, &customer, "image/png", "../cat.png", PNG).await;
    assert_eq!(s, 201, "{png}");
    let png_id = png["file"].as_str().unwrap().to_owned();
    assert_eq!(png_id.len(), 64);
    assert_eq!(
        (png["kind"].as_str(), png["name"].as_str()),
        (Some("image"), Some("cat.png"))
    );
    assert_eq!(png["size"], PNG.len());
    let id = uuid::Uuid::new_v4().to_string();
    chat.send(json!({"type": "message", "client_msg_id": id, "text": "", "files": [png_id]}))
        .await;
    chat.expect_where("ack", |m| m["client_msg_id"] == id.as_str())
        .await;
    // A retry with the same files is the same message; with other files, a conflict.
    chat.send(json!({"type": "message", "client_msg_id": id, "text": "", "files": [png_id]}))
        .await;
    let again = chat
        .expect_where("ack", |m| m["client_msg_id"] == id.as_str())
        .await;
    assert_eq!(again["duplicate"], true);

    let conv = accept_next(&mut agent).await;
    let sent = conv["recent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "message_in")
        .cloned()
        .unwrap();
    assert_eq!(
        sent["text"], "[image: cat.png]",
        "a file alone reads as its description"
    );
    let a = &sent["attachments"][0];
    assert_eq!(
        (
            a["file"].as_str(),
            a["kind"].as_str(),
            a["content_type"].as_str()
        ),
        (Some(png_id.as_str()), Some("image"), Some("image/png"))
    );
    assert_eq!(sent["customer_id"], customer.as_str());

    // The agent holding the conversation downloads it, served safely.
    let r = download(&app, Some(&alice), &customer, &png_id).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "image/png");
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    assert_eq!(
        header(&r, "content-disposition"),
        "inline; filename*=UTF-8''cat.png"
    );
    assert!(header(&r, "content-security-policy").contains("sandbox"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);

    // Nobody else: no token, another agent, another visitor.
    assert_eq!(download(&app, None, &customer, &png_id).await.status(), 401);
    assert_eq!(
        download(&app, Some(&bob), &customer, &png_id)
            .await
            .status(),
        403
    );
    let (other_chat, other) = Client::visitor(&app).await;
    let other_token = other["token"].as_str().unwrap();
    assert_eq!(
        download(&app, Some(other_token), &customer, &png_id)
            .await
            .status(),
        403
    );
    let (s, _) = upload(&app, other_token, &customer, "image/png", "x.png", PNG).await;
    assert_eq!(s, 403, "a visitor adds files to their own customer only");
    other_chat.close().await;
    assert_eq!(
        download(&app, Some(&alice), &customer, &"0".repeat(64))
            .await
            .status(),
        404
    );
    assert_eq!(
        download(&app, Some(&alice), &customer, "..%2Fetc")
            .await
            .status(),
        400
    );

    // The agent sends a PDF back; the visitor receives it and downloads it.
    let (s, pdf) = upload(
        &app,
        &alice,
        &customer,
        "application/pdf",
        "見積書.pdf",
        PDF,
    )
    .await;
    assert_eq!(s, 201, "{pdf}");
    let pdf_id = pdf["file"].as_str().unwrap().to_owned();
    reply_with_files(&mut agent, &conv, "お見積りです", &[&pdf]).await;
    let out = chat
        .expect_where("event", |m| m["event"]["type"] == "message_out")
        .await;
    assert_eq!(out["event"]["text"], "お見積りです");
    assert_eq!(out["event"]["attachments"][0]["file"], pdf_id.as_str());
    assert_eq!(out["event"]["attachments"][0]["name"], "見積書.pdf");
    let r = download(&app, Some(&visitor), &customer, &pdf_id).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "application/pdf");
    assert_eq!(
        header(&r, "content-disposition"),
        "inline; filename*=UTF-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8.pdf"
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), PDF);

    // A file that is not this customer's is refused, and nothing is sent.
    let id = uuid::Uuid::new_v4().to_string();
    agent
        .send(
            json!({"type": "message", "conversation_id": conv["id"], "client_msg_id": id,
            "text": "x", "files": ["0".repeat(64)]}),
        )
        .await;
    let e = agent
        .expect_where("error", |m| m["ref"] == id.as_str())
        .await;
    assert_eq!(e["code"], "invalid");
    assert!(
        e["message"].as_str().unwrap().contains("upload it first"),
        "{e}"
    );
    let id = uuid::Uuid::new_v4().to_string();
    chat.send(json!({"type": "message", "client_msg_id": id, "text": "", "files": ["nope"]}))
        .await;
    let e = chat.expect("error").await;
    assert_eq!(e["code"], "bad_json", "{e}");
    let out_events = app
        .timeline(&customer)
        .await
        .into_iter()
        .filter(|e| e["type"] == "message_out")
        .count();
    assert_eq!(out_events, 1, "the refused reply stored nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_refused_at_the_door_by_size_type_and_content() {
    let app = spawn_app(|s| s.attachments.max_bytes = 4096).await;
    let (chat, welcome) = Client::visitor(&app).await;
    let customer = welcome["customer_id"].as_str().unwrap().to_owned();
    let token = welcome["token"].as_str().unwrap().to_owned();
    let cases: [(&str, Vec<u8>, u16, &str); 5] = [
        ("image/png", [PNG, &[0u8; 5000]].concat(), 413, "too_large"),
        (
            "text/html",
            b"<script>alert(1)</script>".to_vec(),
            400,
            "invalid",
        ),
        (
            "image/png",
            b"<html><script>alert(1)</script>".to_vec(),
            400,
            "invalid",
        ),
        (
            "image/svg+xml",
            b"<svg onload=alert(1)>".to_vec(),
            400,
            "invalid",
        ),
        ("application/pdf", Vec::new(), 400, "invalid"),
    ];
    for (ty, bytes, status, code) in cases {
        let (s, v) = upload(&app, &token, &customer, ty, "f", &bytes).await;
        assert_eq!((s, v["code"].as_str()), (status, Some(code)), "{ty}: {v}");
    }
    // Counted by reason (the registry is shared by the tests of this process, so
    // only presence is asserted).
    let metrics = metrics_text(&app.http, &app.base).await;
    for reason in ["too_large", "type", "mismatch", "invalid"] {
        let line = format!(r#"switchboard_files_refused_total{{reason="{reason}"}}"#);
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
    // Up to the limit is fine, and the same bytes are one file.
    let (s, a) = upload(&app, &token, &customer, "image/png", "a.png", PNG).await;
    let (t, b) = upload(&app, &token, &customer, "image/png", "b.png", PNG).await;
    assert_eq!((s, t), (201, 201));
    assert_eq!(a["file"], b["file"]);
    assert_eq!(b["name"], "a.png", "stored once, as first sent");
    chat.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_with_files_is_refused_on_a_channel_that_carries_none() {
    let rec = Recorder::start().await;
    // A public post: a reply under it carries text only.
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        s.channels.public.x_mentions = true;
    })
    .await;
    let alice = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &alice).await;
    let post =
        crate::channels::x_mention("900", crate::channels::THEM, "@shop 請求書を送ってください");
    assert_eq!(crate::channels::x_post(&app, &post, None).await, 200);
    let conv = accept_next(&mut agent).await;
    let customer = conv["customer"]["id"].as_str().unwrap().to_owned();
    let (s, pdf) = upload(
        &app,
        &alice,
        &customer,
        "application/pdf",
        "invoice.pdf",
        PDF,
    )
    .await;
    assert_eq!(s, 201);
    let id = uuid::Uuid::new_v4().to_string();
    agent
        .send(
            json!({"type": "message", "conversation_id": conv["id"], "client_msg_id": id,
            "text": "どうぞ", "files": [pdf["file"]]}),
        )
        .await;
    let e = agent
        .expect_where("error", |m| m["ref"] == id.as_str())
        .await;
    assert_eq!(e["code"], "invalid");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("x_mentions replies carry no files"),
        "{e}"
    );
    // Nothing went to the provider and nothing was stored.
    agent_say(&mut agent, &conv["id"], "テキストだけは届きます").await;
    let sent = rec.wait_for("/2/tweets", 1).await;
    assert_eq!(sent[0].json()["text"], "テキストだけは届きます");
    assert_eq!(
        rec.all().len(),
        1,
        "only the text reply reached the provider"
    );
    let outs: Vec<Value> = app
        .timeline(&customer)
        .await
        .into_iter()
        .filter(|e| e["type"] == "message_out")
        .collect();
    assert_eq!(outs.len(), 1);
    assert!(outs[0].get("attachments").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_customer_deletes_their_files() {
    let app = spawn_app(|_| {}).await;
    // A customer with no conversation or socket open (an erasure waits for those).
    let (s, v) = app
        .post(
            "/api/v1/customers",
            json!({"priority": 0, "attributes": {}, "identities": [{"channel": "sms", "address": "+819066667777"}]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let customer = v["id"].as_str().unwrap().to_owned();
    let (s, f) = upload(&app, &app.admin, &customer, "image/png", "me.png", PNG).await;
    assert_eq!(s, 201);
    let file = f["file"].as_str().unwrap();
    assert_eq!(
        download(&app, Some(&app.admin), &customer, file)
            .await
            .status(),
        200
    );
    let (s, v) = app
        .post(&format!("/api/v1/customers/{customer}/erase"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        download(&app, Some(&app.admin), &customer, file)
            .await
            .status(),
        404
    );
}

/// The browser end-to-end test (clients/tests/files.mjs): the visitor sends an image and
/// a PDF, the agent sees the image decoded and the PDF's bytes in its preview, downloads
/// it, is refused an HTML file, and sends a file back that the visitor downloads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_travel_between_the_chat_and_the_desktop_in_a_real_browser() {
    let app = spawn_app(|_| {}).await;
    app.agent("fay", &["general"], json!({})).await;
    run_browser_script(
        &app,
        "files.mjs",
        &[("AGENT_ID", "fay"), ("AGENT_PASSWORD", "fay-password")],
        "files browser test passed",
    )
    .await;
}

/// Sends the agent's `text` in `conv` with uploaded `files` (as `upload` answered)
/// and waits for the ack.
async fn reply_with_files(agent: &mut Client, conv: &Value, text: &str, files: &[&Value]) {
    let id = uuid::Uuid::new_v4().to_string();
    let ids: Vec<&Value> = files.iter().map(|f| &f["file"]).collect();
    agent
        .send(
            json!({"type": "message", "conversation_id": conv["id"], "client_msg_id": id,
                     "text": text, "files": ids}),
        )
        .await;
    agent
        .expect_where("ack", |m| m["client_msg_id"] == id.as_str())
        .await;
}

/// The signed link a provider was handed, on this test's server instead of the public
/// URL.
fn local(app: &TestApp, link: &str) -> String {
    link.replacen(PUBLIC, &app.base, 1)
}

/// An agent's image goes to X uploaded (`POST /2/media/upload`, `dm_image`, the
/// bytes) and attached to the direct message that carries the text; a PDF, which X
/// takes no upload of, goes as a signed link in that text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_reach_x_uploaded_or_by_signed_link() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    let alice = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &alice).await;
    let dm = crate::channels::x_dm("d910", crate::channels::THEM, "写真をお願いします");
    assert_eq!(crate::channels::x_post(&app, &dm, None).await, 200);
    let conv = accept_next(&mut agent).await;
    let customer = conv["customer"]["id"].as_str().unwrap().to_owned();
    let (_, png) = upload(&app, &alice, &customer, "image/png", "photo.png", PNG).await;
    let (_, pdf) = upload(
        &app,
        &alice,
        &customer,
        "application/pdf",
        "manual.pdf",
        PDF,
    )
    .await;
    reply_with_files(&mut agent, &conv, "どうぞ", &[&png, &pdf]).await;
    let dms = rec.wait_for("/2/dm_conversations/", 1).await;
    let all = rec.all();
    let up: Vec<_> = all.iter().filter(|r| r.path == "/2/media/upload").collect();
    assert_eq!(up.len(), 1, "the image only");
    assert_eq!(up[0].header("authorization"), Some("Bearer x-user-token"));
    let body = String::from_utf8_lossy(&up[0].body);
    assert!(
        body.contains("name=\"media_category\"") && body.contains("dm_image"),
        "{body}"
    );
    assert!(
        body.contains("name=\"media_type\"") && body.contains("image/png"),
        "{body}"
    );
    assert!(body.contains("filename=\"photo.png\""), "{body}");
    assert!(up[0].body.windows(PNG.len()).any(|w| w == PNG), "the bytes");
    // The recorder names an upload by its place among the requests it took.
    let k = all
        .iter()
        .position(|r| r.path == "/2/media/upload")
        .unwrap()
        + 1;
    assert_eq!(
        dms.len(),
        1,
        "one message: the image, the text and the link"
    );
    let sent = dms[0].json();
    assert_eq!(
        sent["attachments"],
        json!([{"media_id": format!("{}", 1_880_000_000 + k)}])
    );
    let text = sent["text"].as_str().unwrap();
    let (said, link) = text
        .split_once("\nmanual.pdf: ")
        .expect("the PDF as a link");
    assert_eq!(said, "どうぞ");
    assert!(
        link.starts_with(&format!("{PUBLIC}/files/{customer}/")),
        "{link}"
    );
    let r = app.http.get(local(&app, link)).send().await.unwrap();
    assert_eq!(&r.bytes().await.unwrap()[..], PDF);
}

/// Files an agent sends on Messenger, SMS and LINE travel as signed, expiring links
/// the provider fetches: Messenger gets one attachment message per file, then the
/// text; Twilio gets `MediaUrl`; LINE gets an image message and the other file as a
/// link under the text, in one call. The link serves the bytes to anyone holding it, untouched
/// and in time, and to no one else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_reach_messenger_sms_and_line_by_signed_links() {
    let rec = Recorder::start().await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let clock = ManualClock::new(Millis(now_ms));
    let app = spawn_app_with_clock(
        |s| {
            channels_on(s, &rec);
            s.timing.agent_token_ttl_ms = 7 * 24 * 3_600_000;
        },
        clock.clone(),
    )
    .await;
    let alice = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &alice).await;
    assert_eq!(
        fb_post(
            &app,
            &fb_text("PSID-F", "m_F1", "写真を送ってください"),
            None
        )
        .await,
        200
    );
    let conv = accept_next(&mut agent).await;
    let customer = conv["customer"]["id"].as_str().unwrap().to_owned();
    let (_, png) = upload(&app, &alice, &customer, "image/png", "photo.png", PNG).await;
    let (_, pdf) = upload(&app, &alice, &customer, "application/pdf", "a.pdf", PDF).await;
    reply_with_files(&mut agent, &conv, "どうぞ", &[&png, &pdf]).await;
    let sent = rec.wait_for("/me/messages", 3).await;
    let kinds: Vec<Value> = sent
        .iter()
        .map(|r| r.json()["message"]["attachment"]["type"].clone())
        .collect();
    assert_eq!(kinds, [json!("image"), json!("file"), Value::Null]);
    assert_eq!(sent[2].json()["message"]["text"], "どうぞ");
    let link = sent[0].json()["message"]["attachment"]["payload"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        link.starts_with(&format!("{PUBLIC}/files/{customer}/")),
        "{link}"
    );

    // The link, without any token: the bytes, sandboxed, fetchable cross-origin.
    let r = app.http.get(local(&app, &link)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "image/png");
    assert_eq!(header(&r, "cross-origin-resource-policy"), "cross-origin");
    assert_eq!(&r.bytes().await.unwrap()[..], PNG);
    // Tampered: another file under the same signature, another expiry, a bad signature.
    let other =
        local(&app, &link).replace(png["file"].as_str().unwrap(), pdf["file"].as_str().unwrap());
    let exp: i64 = link
        .split("exp=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let later = local(&app, &link).replace(&format!("exp={exp}"), &format!("exp={}", exp + 1));
    let unsigned = local(&app, &link).split("&sig=").next().unwrap().to_owned() + "&sig=AAAA";
    for bad in [other, later, unsigned] {
        let r = app.http.get(&bad).send().await.unwrap();
        assert_eq!(r.status(), 403, "{bad}");
    }
    // Expired after `attachments.link_ttl_ms` (24 h by default).
    clock.advance_ms(24 * 3_600_000 + 1_000);
    let r = app.http.get(local(&app, &link)).send().await.unwrap();
    assert_eq!(r.status(), 403, "an expired link");

    // SMS: the file as MMS.
    let (s, _) = sms_in(&app, "SM901", "+819055557777", "領収書は?").await;
    assert_eq!(s, 200);
    let sms_conv = accept_next(&mut agent).await;
    let sms_customer = sms_conv["customer"]["id"].as_str().unwrap().to_owned();
    let (_, receipt) = upload(&app, &alice, &sms_customer, "application/pdf", "r.pdf", PDF).await;
    reply_with_files(&mut agent, &sms_conv, "領収書です", &[&receipt]).await;
    let sent = rec
        .wait_for("/2010-04-01/Accounts/AC0123456789abcdef/Messages.json", 1)
        .await;
    let form = sent[0].form();
    assert_eq!(form["Body"], "領収書です");
    let media = &form["MediaUrl"];
    assert!(
        media.starts_with(&format!("{PUBLIC}/files/{sms_customer}/")),
        "{media}"
    );
    let r = app.http.get(local(&app, media)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(&r.bytes().await.unwrap()[..], PDF);

    // LINE: one push — the image as an image message, the PDF as a link under the text.
    let s = line_post(
        &app,
        &line_text("U901", "m901", "地図を送って", "rt901"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let line_conv = accept_next(&mut agent).await;
    let line_customer = line_conv["customer"]["id"].as_str().unwrap().to_owned();
    let (_, map) = upload(&app, &alice, &line_customer, "image/png", "map.png", PNG).await;
    let (_, guide) = upload(
        &app,
        &alice,
        &line_customer,
        "application/pdf",
        "案内.pdf",
        PDF,
    )
    .await;
    reply_with_files(&mut agent, &line_conv, "こちらです", &[&map, &guide]).await;
    let sent = rec.wait_for("/v2/bot/message/", 1).await;
    assert_eq!(sent.len(), 1, "one call carries all of it");
    let messages = sent[0].json()["messages"].clone();
    assert_eq!(messages.as_array().unwrap().len(), 2, "{messages}");
    assert_eq!(messages[0]["type"], "image");
    let image = messages[0]["originalContentUrl"].as_str().unwrap();
    assert_eq!(messages[0]["previewImageUrl"], image);
    assert!(
        image.starts_with(&format!("{PUBLIC}/files/{line_customer}/")),
        "{image}"
    );
    let r = app.http.get(local(&app, image)).send().await.unwrap();
    assert_eq!(&r.bytes().await.unwrap()[..], PNG);
    assert_eq!(messages[1]["type"], "text");
    let text = messages[1]["text"].as_str().unwrap();
    let (said, link) = text.split_once("\n案内.pdf: ").expect("the PDF as a link");
    assert_eq!(said, "こちらです");
    let r = app.http.get(local(&app, link)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(&r.bytes().await.unwrap()[..], PDF);
}
