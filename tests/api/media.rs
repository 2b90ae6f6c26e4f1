//! Provider media (docs/attachments.md, "Provider media"): the image of an MMS, a LINE
//! message, a WhatsApp message and a Messenger message is fetched from the provider's
//! API (the local recorder standing in) with that provider's credentials, stored for
//! the customer and served back; the exact requests are asserted. Media a webhook
//! points anywhere else (the cloud metadata address, directly or by a redirect) is not
//! fetched, media over the size limit is not stored, and the message is taken either
//! way with the media described. X's direct-message media is fetched signed with
//! OAuth 1.0a (the signature checked here independently with the hmac and sha1
//! crates), a public post's photo without credentials. An agent's file goes to
//! WhatsApp uploaded to the Cloud API's media endpoint, then sent by its media id with
//! the text as caption.

use crate::channels::{channels_on, fb_post, line_post, twilio_post};
use crate::files::PNG;
use crate::helpers::*;
use crate::meta::{wa_post, wa_value};
use crate::recorder::Recorder;
use base64::Engine as _;
use serde_json::{json, Value};

/// The attachments of the customer's first `message_in`, once it is stored.
async fn attachments_of(app: &TestApp, channel: &str, address: &str) -> (String, Vec<Value>) {
    let c = crate::channels::customer_of(app, channel, address)
        .await
        .unwrap_or_else(|| panic!("{channel} customer {address}"));
    let id = c["id"].as_str().unwrap().to_owned();
    let events = app
        .timeline_until(&id, "the message", |e| {
            e.iter().any(|e| e["type"] == "message_in")
        })
        .await;
    let m = events.iter().find(|e| e["type"] == "message_in").unwrap();
    (id, m["attachments"].as_array().cloned().unwrap_or_default())
}

/// An MMS `MM{n}` from `from` with `body` and one PNG at Twilio's media URL `ME{n}`
/// (on the recorder, which redirects it to its CDN stand-in): the webhook's status.
async fn mms_in(app: &TestApp, rec: &Recorder, n: &str, from: &str, body: &str) -> u16 {
    let (sid, media) = (format!("MM{n}"), format!("ME{n}"));
    let media_url = format!(
        "{}/2010-04-01/Accounts/AC0123456789abcdef/Messages/{sid}/Media/{media}",
        rec.base
    );
    let params = [
        ("MessageSid", sid.as_str()),
        ("From", from),
        ("Body", body),
        ("NumMedia", "1"),
        ("MediaUrl0", media_url.as_str()),
        ("MediaContentType0", "image/png"),
    ];
    twilio_post(app, "/webhooks/twilio/sms", &params, None)
        .await
        .0
}

/// The stored bytes of `a`, read back as admin.
async fn stored(app: &TestApp, customer: &str, a: &Value) -> Vec<u8> {
    let file = a["file"].as_str().unwrap_or_else(|| panic!("stored: {a}"));
    let r = app
        .http
        .get(format!(
            "{}/api/v1/customers/{customer}/files/{file}",
            app.base
        ))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_media_is_fetched_with_the_providers_credentials_and_stored() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        s.attachments.max_bytes = 32 * 1024;
    })
    .await;

    // Twilio MMS: the media URL (with the account's basic auth) redirects to the CDN.
    let status = mms_in(&app, &rec, "1", "+819011110001", "").await;
    assert_eq!(status, 200);
    let (customer, a) = attachments_of(&app, "sms", "+819011110001").await;
    assert_eq!(stored(&app, &customer, &a[0]).await, PNG);
    let asked = rec.wait_for("/Media/ME1", 1).await;
    let basic =
        base64::engine::general_purpose::STANDARD.encode("AC0123456789abcdef:twilio-auth-token");
    assert_eq!(
        asked[0].header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(asked[0].method, "GET");

    // LINE: the content API by message id, with the channel's bearer token.
    let line = json!({"destination": "Ubot", "events": [{
        "type": "message", "mode": "active", "timestamp": 1_700_000_000_000u64,
        "webhookEventId": "01HIMG", "deliveryContext": {"isRedelivery": false},
        "source": {"type": "user", "userId": "Uimage0000000000000000000000000001"},
        "replyToken": "rt-img", "message": {"id": "468789577898262530", "type": "image",
            "contentProvider": {"type": "line"}}
    }]});
    assert_eq!(line_post(&app, &line, None).await, 200);
    let (customer, a) = attachments_of(&app, "line", "Uimage0000000000000000000000000001").await;
    assert_eq!(stored(&app, &customer, &a[0]).await, PNG);
    assert_eq!(a[0]["kind"], "image");
    let asked = rec
        .wait_for("/v2/bot/message/468789577898262530/content", 1)
        .await;
    assert_eq!(
        asked[0].header("authorization"),
        Some("Bearer line-access-token")
    );

    // WhatsApp: the media id is looked up, then its URL read, both with the token.
    let wa = wa_value(json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Hanako"}, "wa_id": "819022220002"}],
        "messages": [{"from": "819022220002", "id": "wamid.IMG1", "timestamp": "1700000000",
            "type": "image", "image": {"id": "MEDIA1", "mime_type": "image/png", "caption": "壊れていました"}}]
    }));
    assert_eq!(wa_post(&app, &wa, None).await, 200);
    let (customer, a) = attachments_of(&app, "whatsapp", "+819022220002").await;
    assert_eq!(stored(&app, &customer, &a[0]).await, PNG);
    let lookup = rec.wait_for("/v21.0/MEDIA1", 1).await;
    assert_eq!(lookup[0].header("authorization"), Some("Bearer wa-token"));
    let read = rec
        .all()
        .into_iter()
        .filter(|r| r.path == "/media/png" && r.header("authorization") == Some("Bearer wa-token"))
        .count();
    assert_eq!(read, 1, "the media URL is read with the token");

    // Messenger: the CDN URL of the payload; nothing else is ever asked.
    let before = rec.all().len();
    let fb = json!({"object": "page", "entry": [{"id": "PAGE1", "time": 1_700_000_000_000u64, "messaging": [{
        "sender": {"id": "PSIDIMG1"}, "recipient": {"id": "PAGE1"}, "timestamp": 1_700_000_000_000u64,
        "message": {"mid": "m_img1", "attachments": [
            {"type": "image", "payload": {"url": format!("{}/media/png", rec.base)}},
            {"type": "image", "payload": {"url": "http://169.254.169.254/latest/meta-data/iam"}},
            {"type": "file", "payload": {"url": format!("{}/media/evil-redirect", rec.base)}},
            {"type": "image", "payload": {"url": format!("{}/media/big", rec.base)}}
        ]}
    }]}]});
    assert_eq!(fb_post(&app, &fb, None).await, 200);
    let (customer, a) = attachments_of(&app, "messenger", "PSIDIMG1").await;
    let stored_files: Vec<&Value> = a.iter().filter(|a| a.get("file").is_some()).collect();
    assert_eq!(stored_files.len(), 1, "only the CDN image is stored: {a:?}");
    assert_eq!(stored(&app, &customer, stored_files[0]).await, PNG);
    let kept: Vec<&str> = a.iter().filter_map(|a| a["url"].as_str()).collect();
    assert!(
        kept.iter().any(|u| u.starts_with("http://169.254.169.254")),
        "described: {a:?}"
    );
    assert!(kept.iter().any(|u| u.ends_with("/media/evil-redirect")));
    assert!(
        kept.iter().any(|u| u.ends_with("/media/big")),
        "too large: described"
    );
    let asked: Vec<String> = rec.all()[before..].iter().map(|r| r.path.clone()).collect();
    assert!(
        !asked.iter().any(|p| p.contains("latest/meta-data")),
        "the metadata address is never asked: {asked:?}"
    );
    let metrics = metrics_text(&app.http, &app.base).await;
    assert!(
        metrics
            .contains(r#"switchboard_media_fetches_total{provider="messenger",outcome="host"} 2"#),
        "{metrics}"
    );
    assert!(metrics.contains(
        r#"switchboard_media_fetches_total{provider="messenger",outcome="too_large"} 1"#
    ));
}

/// The OAuth 1.0a header of a request the recorder took, checked independently: its
/// fields, and its signature over GET, the URL and every `oauth_*` field and query
/// parameter, keyed by the consumer and token secrets.
fn check_oauth1(r: &crate::recorder::Recorded, base: &str) {
    use hmac::{Hmac, Mac};
    let header = r.header("authorization").expect("an Authorization header");
    let fields: std::collections::BTreeMap<String, String> = header
        .strip_prefix("OAuth ")
        .expect("OAuth")
        .split(", ")
        .map(|f| {
            let (k, v) = f.split_once('=').unwrap();
            let v = v.trim_matches('"');
            (k.to_owned(), urlencoding_decode(v))
        })
        .collect();
    assert_eq!(fields["oauth_consumer_key"], "x-api-key");
    assert_eq!(fields["oauth_token"], "x-oauth1-token");
    assert_eq!(fields["oauth_signature_method"], "HMAC-SHA1");
    assert_eq!(fields["oauth_version"], "1.0");
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let mut params: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| *k != "oauth_signature")
        .map(|(k, v)| (enc(k), enc(v)))
        .collect();
    for pair in r.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.push((enc(&urlencoding_decode(k)), enc(&urlencoding_decode(v))));
    }
    params.sort();
    let joined: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let text = format!(
        "GET&{}&{}",
        enc(&format!("{base}{}", r.path)),
        enc(&joined.join("&"))
    );
    let key = format!(
        "{}&{}",
        enc(crate::channels::X_SECRET),
        enc("x-oauth1-secret")
    );
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(text.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(fields["oauth_signature"], expected, "{header}");
}

/// Percent-decoding of a header value or query part.
fn urlencoding_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_media_is_fetched_signed_with_oauth1_and_public_photos_without_credentials() {
    let rec = Recorder::start().await;
    let dm = |id: &str, from: &str, url: &str| {
        json!({"for_user_id": crate::channels::ME, "direct_message_events": [
            {"type": "message_create", "id": id, "created_timestamp": "1700000000000",
             "message_create": {"target": {"recipient_id": crate::channels::ME},
                "sender_id": from, "message_data": {"text": "壊れていました", "entities": {},
                "attachment": {"type": "media", "media": {"type": "photo",
                               "media_url_https": url}}}}}]})
    };
    let url = format!(
        "{}/1.1/ton/data/dm/1700000000/1/abc.png?name=small",
        rec.base
    );

    // Without OAuth 1.0a credentials the media stays a described reference.
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    assert_eq!(
        crate::channels::x_post(&app, &dm("d1", "5001", &url), None).await,
        200
    );
    let (_, a) = attachments_of(&app, "x", "5001").await;
    assert_eq!(
        (a[0]["kind"].as_str(), a[0]["url"].as_str()),
        (Some("image"), Some(url.as_str()))
    );
    assert!(a[0].get("file").is_none(), "{a:?}");
    assert!(rec.all().is_empty(), "nothing was asked");
    drop(app);

    // With them: fetched, signed, stored.
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        s.channels.x.oauth1_consumer_key = "x-api-key".into();
        s.channels.x.oauth1_token = "x-oauth1-token".into();
        s.channels.x.oauth1_token_secret = "x-oauth1-secret".into();
        s.channels.public.x_mentions = true;
    })
    .await;
    assert_eq!(
        crate::channels::x_post(&app, &dm("d2", "5002", &url), None).await,
        200
    );
    let (customer, a) = attachments_of(&app, "x", "5002").await;
    assert_eq!(stored(&app, &customer, &a[0]).await, PNG);
    let asked = rec.wait_for("/1.1/ton/data/dm/", 1).await;
    assert_eq!(asked[0].query, "name=small");
    check_oauth1(&asked[0], &rec.base);

    // A public post's photo: no credentials.
    let post = json!({"for_user_id": crate::channels::ME, "tweet_create_events": [{
        "id_str": "777", "text": "@shop 届いた箱が潰れていました", "timestamp_ms": "1700000000000",
        "user": {"id_str": "5003", "name": "Jordan", "screen_name": "j"},
        "entities": {"user_mentions": [{"id_str": crate::channels::ME, "screen_name": "shop"}]},
        "extended_entities": {"media": [{"type": "photo",
                                         "media_url_https": format!("{}/media/png", rec.base)}]}
    }]});
    assert_eq!(crate::channels::x_post(&app, &post, None).await, 200);
    let (customer, a) = attachments_of(&app, "x_mentions", "5003").await;
    assert_eq!(stored(&app, &customer, &a[0]).await, PNG);
    let photo = rec.wait_for("/media/png", 1).await;
    assert_eq!(photo[0].header("authorization"), None);

    // Half the credentials: refused at start.
    let mut s = switchboard::config::Settings::default();
    channels_on(&mut s, &rec);
    s.channels.x.oauth1_token = "x-oauth1-token".into();
    let e = s.channels.validate().unwrap_err();
    assert!(e.contains("all three, or none"), "{e}");
}

/// A redelivered message is the same message whatever became of its media: one whose
/// media fetch failed the first time is not fetched again and is answered as the
/// duplicate it is (not as different content), once; an erased customer's replayed
/// message has its media left unfetched too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_fetches_no_media_and_is_the_same_message() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    let alice = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &alice).await;
    rec.fail_next(&[503]);
    assert_eq!(
        mms_in(&app, &rec, "7", "+819011110007", "見てください").await,
        200
    );
    let (customer, a) = attachments_of(&app, "sms", "+819011110007").await;
    assert!(
        a[0].get("file").is_none(),
        "the fetch failed: described {a:?}"
    );
    assert_eq!(rec.all().len(), 1);
    // Twilio redelivers: answered like the first time, nothing fetched or stored.
    assert_eq!(
        mms_in(&app, &rec, "7", "+819011110007", "見てください").await,
        200
    );
    assert_eq!(rec.all().len(), 1, "no second fetch: {:?}", rec.all());
    let t = app.timeline(&customer).await;
    assert_eq!(t.iter().filter(|e| e["type"] == "message_in").count(), 1);

    // Erased, then replayed: dropped without fetching (on WhatsApp: the erasure
    // counters of SMS, LINE, Messenger and voice are another test's, in this process).
    let wa = wa_value(json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Hanako"}, "wa_id": "819022220007"}],
        "messages": [{"from": "819022220007", "id": "wamid.IMG7", "timestamp": "1700000000",
            "type": "image", "image": {"id": "MEDIA7", "mime_type": "image/png"}}]
    }));
    assert_eq!(wa_post(&app, &wa, None).await, 200);
    let (wa_customer, a) = attachments_of(&app, "whatsapp", "+819022220007").await;
    assert_eq!(stored(&app, &wa_customer, &a[0]).await, PNG);
    let fetched = rec.all().len();
    // Both conversations (the MMS and this one) resolved: nothing holds an erasure.
    for _ in 0..2 {
        let conv = accept_next(&mut agent).await;
        resolve(&mut agent, &conv).await;
    }
    agent.close().await;
    let (s, v) = app
        .post(&format!("/api/v1/customers/{wa_customer}/erase"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(wa_post(&app, &wa, None).await, 200);
    assert_eq!(
        rec.all().len(),
        fetched,
        "an erased customer's media is not fetched"
    );
}

/// A channel's own file limit (`attachments.channel_max_bytes`): an MMS image over it
/// is described only, and an agent's file over it (uploaded under the global limit) is
/// refused before commit on that channel, nothing sent or stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channels_own_file_limit_holds_both_ways() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| {
        channels_on(s, &rec);
        s.attachments.channel_max_bytes = [(switchboard::domain::Channel::Sms, 40)].into();
    })
    .await;
    let alice = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &alice).await;
    let status = mms_in(&app, &rec, "9", "+819011110009", "写真です").await;
    assert_eq!(status, 200);
    let (customer, a) = attachments_of(&app, "sms", "+819011110009").await;
    assert!(
        a[0].get("file").is_none(),
        "over the SMS limit: described only: {a:?}"
    );
    let metrics = metrics_text(&app.http, &app.base).await;
    assert!(
        metrics.contains(
            r#"switchboard_media_fetches_total{provider="twilio",outcome="too_large"} 1"#
        ),
        "the fetch stopped at the channel's limit: {metrics}"
    );
    let conv = accept_next(&mut agent).await;

    let (s, png) = crate::files::upload(&app, &alice, &customer, "image/png", "map.png", PNG).await;
    assert_eq!(s, 201, "the upload itself meets the global limit");
    let id = uuid::Uuid::new_v4().to_string();
    agent
        .send(
            json!({"type": "message", "conversation_id": conv["id"], "client_msg_id": id,
                     "text": "地図です", "files": [png["file"]]}),
        )
        .await;
    let e = agent
        .expect_where("error", |m| m["ref"] == id.as_str())
        .await;
    assert_eq!(e["code"], "invalid");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("sms takes files up to 40 bytes") && msg.contains("map.png"),
        "{msg}"
    );
    let t = app.timeline(&customer).await;
    assert!(!t.iter().any(|e| e["type"] == "message_out"), "{t:#?}");
    assert!(rec
        .all()
        .iter()
        .all(|r| !r.path.ends_with("/Messages.json")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_file_goes_to_whatsapp_uploaded_then_sent_by_id() {
    let rec = Recorder::start().await;
    let app = spawn_app(|s| channels_on(s, &rec)).await;
    let alice = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &alice).await;
    let wa = wa_value(json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Ken"}, "wa_id": "819033330003"}],
        "messages": [{"from": "819033330003", "id": "wamid.Q1", "timestamp": "1700000000",
            "type": "text", "text": {"body": "請求書をください"}}]
    }));
    assert_eq!(wa_post(&app, &wa, None).await, 200);
    let conv = accept_next(&mut agent).await;
    let customer = conv["customer"]["id"].as_str().unwrap().to_owned();
    let (s, pdf) = crate::files::upload(
        &app,
        &alice,
        &customer,
        "application/pdf",
        "invoice.pdf",
        crate::files::PDF,
    )
    .await;
    assert_eq!(s, 201, "{pdf}");
    let id = uuid::Uuid::new_v4().to_string();
    agent
        .send(
            json!({"type": "message", "conversation_id": conv["id"], "client_msg_id": id,
            "text": "請求書です", "files": [pdf["file"]]}),
        )
        .await;
    agent
        .expect_where("ack", |m| m["client_msg_id"] == id.as_str())
        .await;

    // The upload: multipart with the bytes, the type and the product, with the token.
    let up = rec.wait_for("/106540352242922/media", 1).await;
    assert_eq!(up[0].method, "POST");
    assert_eq!(up[0].header("authorization"), Some("Bearer wa-token"));
    assert!(up[0]
        .header("content-type")
        .is_some_and(|c| c.starts_with("multipart/form-data")));
    let body = String::from_utf8_lossy(&up[0].body);
    assert!(body.contains("name=\"messaging_product\"") && body.contains("whatsapp"));
    assert!(body.contains("filename=\"invoice.pdf\""), "{body}");
    assert!(body.contains(std::str::from_utf8(crate::files::PDF).unwrap()));
    // Then the message, by media id, the text as its caption.
    let sent = rec.wait_for("/106540352242922/messages", 1).await;
    let m = sent[0].json();
    assert_eq!(m["to"], "819033330003");
    assert_eq!(m["type"], "document");
    // The recorder names an upload by its place among the requests it took.
    let k = rec
        .all()
        .iter()
        .position(|r| r.path.ends_with("/media"))
        .unwrap()
        + 1;
    assert_eq!(
        m["document"],
        json!({"id": format!("UPLOADED{k}"), "caption": "請求書です", "filename": "invoice.pdf"})
    );
    assert_eq!(up.len(), 1);
}
