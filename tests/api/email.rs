//! Email over real SMTP: Python's smtplib (an independent SMTP client and MIME encoder)
//! sends a Japanese ISO-2022-JP multipart email with an attachment to the engine's SMTP
//! listener; the agent's reply leaves through lettre to a second SMTP server started
//! by the test (standing in for the company's relay), threaded under the customer's
//! message; the customer's reply to it reopens the same conversation.

use crate::helpers::*;
use async_trait::async_trait;
use serde_json::json;
use switchboard::channels::email::{
    EmailSettings, Envelope, MailHandler, ParsedEmail, Reject, SmtpServer,
};
use tokio::sync::mpsc;

struct Relay(mpsc::UnboundedSender<(Envelope, ParsedEmail)>);

#[async_trait]
impl MailHandler for Relay {
    async fn deliver(&self, e: Envelope, m: ParsedEmail, _: usize) -> Result<(), Reject> {
        self.0.send((e, m)).ok();
        Ok(())
    }
}

/// Sends one email with Python's smtplib; prints the SMTP reply code on failure.
const SEND_PY: &str = r#"
import json, smtplib, sys
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr
a = json.loads(sys.argv[1])
s = smtplib.SMTP('127.0.0.1', a['port'], timeout=20)
try:
    if a.get('raw'):
        s.sendmail(a['from'], ['support@switchboard.local'], a['raw'].encode())
    else:
        m = MIMEMultipart()
        m['From'] = formataddr((str(Header(a['name'], 'iso-2022-jp')), a['from']))
        m['To'] = 'support@switchboard.local'
        m['Subject'] = Header(a['subject'], 'iso-2022-jp')
        m['Message-ID'] = '<%s>' % a['mid']
        if a.get('in_reply_to'):
            m['In-Reply-To'] = '<%s>' % a['in_reply_to']
            m['References'] = ' '.join('<%s>' % r for r in a['references'])
        m.attach(MIMEText(a['body'], 'plain', 'iso-2022-jp'))
        if a.get('attachment'):
            p = MIMEApplication(b'%PDF-1.4 fake invoice', 'pdf')
            p.add_header('Content-Disposition', 'attachment', filename=('utf-8', '', a['attachment']))
            m.attach(p)
        s.send_message(m)
    print('250')
except smtplib.SMTPResponseException as e:
    print(e.smtp_code)
finally:
    try:
        s.quit()
    except Exception:
        pass
"#;

async fn smtp_send(port: u16, args: serde_json::Value) -> String {
    let mut a = args;
    a["port"] = json!(port);
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(SEND_PY)
        .arg(a.to_string())
        .output()
        .await
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn japanese_email_in_threaded_reply_out_and_reply_reopens() {
    let (tx, mut relayed) = mpsc::unbounded_channel();
    let relay = SmtpServer::bind(
        EmailSettings {
            enabled: true,
            listen: "127.0.0.1:0".parse().unwrap(),
            ..EmailSettings::default()
        },
        std::sync::Arc::new(Relay(tx)),
    )
    .await
    .unwrap();
    let relay_port = relay.local_addr.port();
    let app = spawn_app(|s| {
        let e = &mut s.channels.email;
        e.enabled = true;
        e.listen = "127.0.0.1:0".parse().unwrap();
        e.relay.host = "127.0.0.1".into();
        e.relay.port = relay_port;
        e.relay.from_address = "support@switchboard.local".into();
        // Only threading reopens a closed conversation in this test.
        s.channels.reopen_window_ms = 0;
    })
    .await;
    let port = app.smtp.expect("SMTP listening").port();
    let token = app.agent("alice", &["general"], json!({})).await;
    let mut agent = Client::available(&app, &token).await;

    let first = json!({
        "from": "Taro@Example.JP", "name": "山田 太郎", "subject": "注文について",
        "mid": "m1@example.jp", "body": "注文した商品がまだ届きません。\n確認をお願いします。",
        "attachment": "請求書.pdf"
    });
    assert_eq!(smtp_send(port, first.clone()).await, "250");
    // The MTA retries (same Message-ID): stored once.
    assert_eq!(smtp_send(port, first).await, "250");

    let conv = accept_next(&mut agent).await;
    assert_eq!(conv["channel"], "email");
    assert_eq!(conv["customer"]["display_name"], "山田 太郎");
    let msg = conv["recent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "message_in")
        .unwrap()
        .clone();
    assert_eq!(
        msg["text"],
        "注文した商品がまだ届きません。\n確認をお願いします。"
    );
    assert_eq!(msg["subject"], "注文について");
    assert_eq!(msg["address"], "taro@example.jp");
    assert_eq!(msg["attachments"][0]["name"], "請求書.pdf");
    assert_eq!(msg["attachments"][0]["content_type"], "application/pdf");
    assert_eq!(msg["attachments"][0]["size"], 21);
    let customer = conv["customer"]["id"].as_str().unwrap().to_owned();

    // The reply goes out through the relay, threaded.
    let ack = agent_say(
        &mut agent,
        &conv["id"],
        "ご連絡ありがとうございます。確認いたします。",
    )
    .await;
    let (env, out) = tokio::time::timeout(WAIT, relayed.recv())
        .await
        .expect("relay got the reply")
        .unwrap();
    assert_eq!(env.rcpt_to, ["taro@example.jp"]);
    assert_eq!(env.mail_from, "support@switchboard.local");
    assert_eq!(out.subject.as_deref(), Some("Re: 注文について"));
    assert_eq!(out.in_reply_to, ["m1@example.jp"]);
    assert_eq!(out.references, ["m1@example.jp"]);
    assert_eq!(
        out.text.trim(),
        "ご連絡ありがとうございます。確認いたします。"
    );
    let our_mid = out.message_id.clone().unwrap();
    assert_eq!(
        our_mid,
        format!(
            "c.{}.{}@switchboard.local",
            conv["id"].as_str().unwrap(),
            ack["event_id"].as_str().unwrap()
        )
    );
    app.timeline_until(&customer, "sent", |t| {
        t.iter()
            .any(|e| e["type"] == "message_status" && e["provider_msg_id"] == our_mid.as_str())
    })
    .await;

    agent
        .send(json!({"type": "resolve", "conversation_id": conv["id"]}))
        .await;
    app.get_until(
        &format!("/api/v1/conversations/{}", conv["id"].as_str().unwrap()),
        "resolved",
        |c| c["state"] == "resolved",
    )
    .await;

    // Someone else quoting our Message-ID does not reopen Taro's conversation.
    let forged = json!({
        "from": "mallory@example.com", "name": "M", "subject": "Re: 注文について",
        "mid": "x1@example.com", "body": "hello", "in_reply_to": our_mid,
        "references": [our_mid]
    });
    assert_eq!(smtp_send(port, forged).await, "250");
    let other = accept_next(&mut agent).await;
    assert_ne!(other["id"], conv["id"]);
    agent
        .send(json!({"type": "resolve", "conversation_id": other["id"]}))
        .await;

    // Taro's reply to our email reopens his conversation, for the same agent.
    let reply = json!({
        "from": "taro@example.jp", "name": "山田 太郎", "subject": "Re: 注文について",
        "mid": "m2@example.jp", "body": "届きました。ありがとうございました。",
        "in_reply_to": our_mid, "references": ["m1@example.jp", our_mid]
    });
    assert_eq!(smtp_send(port, reply).await, "250");
    let again = accept_next(&mut agent).await;
    assert_eq!(again["id"], conv["id"], "the same conversation, reopened");
    let t = app.timeline(&customer).await;
    assert_eq!(t.iter().filter(|e| e["type"] == "message_in").count(), 2);
    assert!(t.iter().any(|e| e["type"] == "conversation_reopened"));

    // Broken MIME (no From): 554, nothing stored.
    let code = smtp_send(
        port,
        json!({"from": "nobody@example.jp", "raw": "Subject: x\r\n\r\nno sender header\r\n"}),
    )
    .await;
    assert_eq!(code, "554");
    let (s, _) = app
        .get("/api/v1/customers?channel=email&address=nobody@example.jp")
        .await;
    assert_eq!(s, 404);
}
