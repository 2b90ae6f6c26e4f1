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
        if a.get('exe'):
            p = MIMEApplication(b'MZ\x90\x00 not for agents', 'x-msdownload')
            p.add_header('Content-Disposition', 'attachment', filename=a['exe'])
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
        "attachment": "請求書.pdf", "exe": "setup.exe"
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
    // The PDF is stored for the customer (once, though the MTA sent it twice); the
    // executable, a type not accepted, is described only.
    let file = msg["attachments"][0]["file"]
        .as_str()
        .expect("the PDF is stored");
    let r = app
        .http
        .get(format!(
            "{}/api/v1/customers/{customer}/files/{file}",
            app.base
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"%PDF-1.4 fake invoice");
    let exe = &msg["attachments"][1];
    assert_eq!(
        (exe["name"].as_str(), exe["content_type"].as_str()),
        (Some("setup.exe"), Some("application/x-msdownload"))
    );
    assert!(exe.get("file").is_none(), "not stored: {exe}");
    let file = file.to_owned();

    // The reply goes out through the relay, threaded, with the invoice attached.
    let id = uuid::Uuid::new_v4().to_string();
    agent
        .send(
            json!({"type": "message", "conversation_id": conv["id"], "client_msg_id": id,
            "text": "ご連絡ありがとうございます。確認いたします。", "files": [file]}),
        )
        .await;
    let ack = agent
        .expect_where("ack", |m| m["client_msg_id"] == id.as_str())
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
    assert_eq!(out.attachments.len(), 1, "the file is an attachment part");
    assert_eq!(out.attachments[0].name.as_deref(), Some("請求書.pdf"));
    assert_eq!(out.attachments[0].bytes, b"%PDF-1.4 fake invoice");
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

/// A raw SMTP client over TCP from a chosen loopback address (127.0.0.0/8 is all
/// loopback on Linux), for the abuse tests: exact bytes in, exact bytes out.
struct RawSmtp {
    reader: tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl RawSmtp {
    async fn connect(server: std::net::SocketAddr, from: [u8; 4]) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(std::net::SocketAddr::from((from, 0)))
            .expect("bind a loopback client address");
        let (r, w) = socket.connect(server).await.unwrap().into_split();
        Self {
            reader: tokio::io::BufReader::new(r),
            writer: w,
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.writer.write_all(bytes).await.unwrap();
    }

    /// One reply line as received, up to and including its `\n`.
    async fn line(&mut self) -> Vec<u8> {
        use tokio::io::AsyncBufReadExt;
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).await.unwrap();
        assert!(
            !line.is_empty(),
            "connection closed while waiting for a reply"
        );
        line
    }

    /// The last line of one reply, without its line end.
    async fn reply(&mut self) -> String {
        loop {
            let line = String::from_utf8_lossy(&self.line().await)
                .trim_end()
                .to_owned();
            if line.as_bytes().get(3) != Some(&b'-') {
                return line;
            }
        }
    }

    async fn cmd(&mut self, text: &str) -> String {
        self.send(format!("{text}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// Envelope and DATA up to the `354`; the caller sends the message.
    async fn start_message(&mut self) {
        assert!(self.cmd("HELO mx.example.com").await.starts_with("250 "));
        assert_eq!(self.cmd("MAIL FROM:<a@example.com>").await, "250 2.1.0 Ok");
        assert_eq!(
            self.cmd("RCPT TO:<support@switchboard.local>").await,
            "250 2.1.5 Ok"
        );
        assert!(self.cmd("DATA").await.starts_with("354 "));
    }

    /// Whether the server closed the connection (EOF with nothing more sent).
    async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut self.reader, &mut rest)
            .await
            .map(|_| rest.is_empty())
            .unwrap_or(true)
    }
}

const LOOPBACK: [u8; 4] = [127, 0, 0, 1];
const OTHER_LOOPBACK: [u8; 4] = [127, 0, 0, 2];

/// Control characters a log line or a reply line must not carry (line ends aside).
fn controls(text: &[u8]) -> Vec<u8> {
    text.iter()
        .copied()
        .filter(|&b| b < 0x20 || b == 0x7f)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_header_junk_is_escaped_in_the_log_and_the_reply() {
    use crate::process::{free_port, spawn_log_to_pipe};
    // The real binary, its SMTP log at info level captured.
    let data = tempfile::tempdir().unwrap();
    let conf = tempfile::tempdir().unwrap();
    let smtp_port = free_port();
    let config = conf.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!("[channels.email]\nenabled = true\nlisten = \"127.0.0.1:{smtp_port}\"\n"),
    )
    .unwrap();
    let config = config.display().to_string();
    let mut engine = spawn_log_to_pipe(
        data.path(),
        free_port(),
        &[
            ("SWITCHBOARD_CONFIG", config.as_str()),
            ("RUST_LOG", "switchboard_smtp=info,warn"),
            ("NO_COLOR", "1"),
        ],
    );
    engine.ready().await;

    let server = std::net::SocketAddr::from((LOOPBACK, smtp_port));
    let reply = tokio::time::timeout(WAIT, async {
        let mut c = RawSmtp::connect(server, LOOPBACK).await;
        assert!(c.reply().await.starts_with("220 "));
        c.start_message().await;
        // ANSI colour, a bare CR (no LF after it) and a NUL in two headers.
        c.send(
            b"From: Mallory <mallory@example.com>\r\n\
              Subject: s\x1b[31mred\rcr\x00nul\r\n\
              Message-ID: <m\x1b[31mred\rcr\x00nul@example.com>\r\n\
              \r\nhello\r\n.\r\n",
        )
        .await;
        let reply = c.line().await;
        assert_eq!(c.cmd("QUIT").await, "221 2.0.0 Bye");
        reply
    })
    .await
    .expect("the SMTP conversation finished");
    let escaped = r"m\x1b[31mred\rcr\0nul@example.com";
    assert_eq!(
        String::from_utf8_lossy(&reply),
        format!("250 2.0.0 Ok: queued as <{escaped}>\r\n")
    );
    assert_eq!(controls(&reply[..reply.len() - 2]), b"", "reply {reply:?}");

    // The accepted line was written before the 250 went out: stop and read the log.
    engine.child.kill().unwrap();
    engine.child.wait().unwrap();
    let mut log = Vec::new();
    std::io::Read::read_to_end(&mut engine.child.stdout.take().unwrap(), &mut log).unwrap();
    let text = String::from_utf8_lossy(&log);
    let accepted: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("smtp message accepted"))
        .collect();
    assert_eq!(accepted.len(), 1, "one accepted line in:\n{text}");
    assert!(
        accepted[0].contains(&format!("message_id={escaped}")),
        "{:?}",
        accepted[0]
    );
    let stray: Vec<u8> = controls(&log).into_iter().filter(|&b| b != b'\n').collect();
    assert_eq!(stray, b"", "control characters in the log:\n{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_smtp_session() {
    const CAP: usize = 3;
    const EXTRA: usize = 2;
    let app = spawn_app(|s| {
        let e = &mut s.channels.email;
        e.enabled = true;
        e.listen = "127.0.0.1:0".parse().unwrap();
        e.max_connections_per_ip = CAP;
        // The idle sessions must outlive the test.
        e.first_command_timeout_ms = 600_000;
    })
    .await;
    let server = app.smtp.expect("SMTP listening");
    tokio::time::timeout(WAIT, async {
        // The cap's worth of silent connections from 127.0.0.1...
        let mut idle = Vec::new();
        for _ in 0..CAP {
            let mut c = RawSmtp::connect(server, LOOPBACK).await;
            assert!(c.reply().await.starts_with("220 "));
            idle.push(c);
        }
        // ...and every further one from there is refused at once.
        for _ in 0..EXTRA {
            let mut c = RawSmtp::connect(server, LOOPBACK).await;
            assert_eq!(
                c.reply().await,
                "421 4.7.0 switchboard.local too many connections from your address, \
                 try again later"
            );
            assert!(c.closed().await);
        }
        // Another address is served and delivers.
        let mut mta = RawSmtp::connect(server, OTHER_LOOPBACK).await;
        assert!(mta.reply().await.starts_with("220 "));
        mta.start_message().await;
        mta.send(b"From: hanako@example.jp\r\nSubject: hi\r\n\r\nhello\r\n.\r\n")
            .await;
        assert!(mta.reply().await.starts_with("250 2.0.0 Ok: queued as <"));
        assert_eq!(mta.cmd("QUIT").await, "221 2.0.0 Bye");
        drop(idle);
    })
    .await
    .expect("within the test deadline");
    let (s, _) = app
        .get("/api/v1/customers?channel=email&address=hanako@example.jp")
        .await;
    assert_eq!(s, 200, "the message from 127.0.0.2 was stored");
    let metrics = metrics_text(&app.http, &app.base).await;
    assert!(
        metrics.contains("switchboard_smtp_refused_total{reason=\"per_ip\"}"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_smtp_connection_is_closed_after_the_first_command_timeout() {
    let app = spawn_app(|s| {
        let e = &mut s.channels.email;
        e.enabled = true;
        e.listen = "127.0.0.1:0".parse().unwrap();
        // Short, and far below the per-command timeout (60 s), which would outlast the
        // test's deadline.
        e.first_command_timeout_ms = 200;
    })
    .await;
    let server = app.smtp.expect("SMTP listening");
    tokio::time::timeout(WAIT, async {
        let mut c = RawSmtp::connect(server, LOOPBACK).await;
        assert!(c.reply().await.starts_with("220 "));
        // Say nothing: the server gives up and closes.
        assert_eq!(
            c.reply().await,
            "421 4.4.2 switchboard.local timeout, closing"
        );
        assert!(c.closed().await);
    })
    .await
    .expect("closed before the test deadline");
    let metrics = metrics_text(&app.http, &app.base).await;
    assert!(
        metrics.contains("switchboard_smtp_refused_total{reason=\"idle\"}"),
        "{metrics}"
    );
}
