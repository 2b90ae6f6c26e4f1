//! Test fixtures: raw messages as byte strings, shared by the MIME and SMTP tests.
//!
//! The ISO-2022-JP bytes were produced once with an independent encoder (Python's
//! `iso-2022-jp` codec) and pasted here, so the tests do not decode with the same
//! library that encoded.

use crate::server::{Envelope, MailHandler, Reject};
use crate::{EmailSettings, ParsedEmail};
use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A Japanese mail client's message: multipart/mixed; From name and Subject as
/// ISO-2022-JP B encoded words ("山田太郎", "注文について"); a 7bit ISO-2022-JP
/// text/plain part ("お世話になっております。\r\n注文番号12345が届きません。\r\n"); a
/// PDF attachment named "請求書.pdf" (encoded word) of [`JAPANESE_PDF_LEN`] bytes.
pub const JAPANESE_MULTIPART: &[u8] =
    b"From: =?ISO-2022-JP?B?GyRCOzNFREJATzobKEI=?= <Taro.Yamada@Example.JP>\r\n\
To: support@switchboard.local\r\n\
Subject: =?ISO-2022-JP?B?GyRCQ21KOCRLJEQkJCRGGyhC?=\r\n\
Date: Mon, 01 Apr 2024 10:00:00 +0900\r\n\
Message-ID: <jp-1@example.jp>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n\
\r\n\
--BOUNDARY\r\n\
Content-Type: text/plain; charset=ISO-2022-JP\r\n\
Content-Transfer-Encoding: 7bit\r\n\
\r\n\
\x1b$B$*@$OC$K$J$C$F$*$j$^$9!#\x1b(B\r\n\
\x1b$BCmJ8HV9f\x1b(B12345\x1b$B$,FO$-$^$;$s!#\x1b(B\r\n\
\r\n\
--BOUNDARY\r\n\
Content-Type: application/pdf; name=\"=?ISO-2022-JP?B?GyRCQEE1YT1xGyhC?=.pdf\"\r\n\
Content-Disposition: attachment\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQKJSBTd2l0Y2hib2FyZCB0ZXN0IGludm9pY2UKJSVFT0YK\r\n\
--BOUNDARY--\r\n";

/// Decoded size of the attachment in [`JAPANESE_MULTIPART`].
pub const JAPANESE_PDF_LEN: u64 = 42;

/// The text of [`JAPANESE_MULTIPART`] as we keep it.
pub const JAPANESE_TEXT: &str = "お世話になっております。\n注文番号12345が届きません。";

/// Records deliveries and answers with a configurable result.
pub struct Recorder {
    tx: mpsc::UnboundedSender<(Envelope, ParsedEmail, usize)>,
    answer: Mutex<Result<(), Reject>>,
}

impl Recorder {
    pub fn new() -> (
        Arc<Self>,
        mpsc::UnboundedReceiver<(Envelope, ParsedEmail, usize)>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Arc::new(Self {
                tx,
                answer: Mutex::new(Ok(())),
            }),
            rx,
        )
    }

    pub fn answer(&self, answer: Result<(), Reject>) {
        *self.answer.lock().unwrap() = answer;
    }
}

#[async_trait]
impl MailHandler for Recorder {
    async fn deliver(
        &self,
        envelope: Envelope,
        message: ParsedEmail,
        raw_size: usize,
    ) -> Result<(), Reject> {
        let answer = self.answer.lock().unwrap().clone();
        if answer.is_ok() {
            let _ = self.tx.send((envelope, message, raw_size));
        }
        answer
    }
}

/// Loopback, port 0, accepting mail for `switchboard.local` only.
pub fn test_settings() -> EmailSettings {
    EmailSettings {
        enabled: true,
        listen: "127.0.0.1:0".parse().unwrap(),
        accept_domains: vec!["switchboard.local".to_owned()],
        ..EmailSettings::default()
    }
}
