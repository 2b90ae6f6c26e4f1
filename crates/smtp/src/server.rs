//! The inbound SMTP server (RFC 5321): receives mail for our support addresses and hands
//! each parsed message to a [`MailHandler`].
//!
//! One tokio task accepts connections; one task per session reads command lines and
//! writes replies (buffered, flushed when the client has nothing more pipelined). The
//! session owns the transaction state (HELO name, reverse path, recipients); the
//! handler owns what happens to a message. Every limit comes from [`EmailSettings`]:
//! concurrent sessions (a semaphore; the next client gets `421` and is closed) and
//! concurrent sessions per client IP address (a count per address; one more gets `421`
//! and is closed at once, so one client cannot starve the MTA), the first command's
//! timeout (a connection that stays silent after the greeting is closed soon), message
//! size (advertised in EHLO, checked on `MAIL FROM ... SIZE=`, enforced while DATA is
//! read: `552`, the rest of the DATA is read and dropped, the session stays usable),
//! recipients per message (`452`), accepted domains (`550`), per-command and DATA
//! timeouts (`421` and close). Command lines are at most [`MAX_COMMAND_LINE`] bytes.
//!
//! A message is accepted (`250 ... queued as <id>`) only when the handler returned
//! `Ok`; a message that does not parse gets `554` and the handler is not called.
//!
//! Outside text (the Message-ID, a handler's reason) reaches a log line only through
//! [`Escaped`] and a reply line only escaped or with control characters blanked: a
//! header cannot forge a log line, recolour a terminal or break the reply.
//!
//! Deliberately absent: STARTTLS and AUTH (terminate TLS and authenticate senders in
//! the MTA or proxy in front), VRFY/EXPN disclosure, relaying to other domains, BDAT.
//!
//! Shutdown: [`SmtpHandle::shutdown`] (or dropping the handle) stops accepting; a
//! session waiting for a command is told `421` and closed; a session reading DATA or
//! waiting for the handler finishes that message first.

use crate::mime::{parse_message, EmailError, ParsedEmail};
use crate::EmailSettings;
use async_trait::async_trait;
use domain::Escaped;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

/// Longest command line we read, bytes, line end included. RFC 5321 guarantees 512;
/// we allow ESMTP parameters generous room. Longer lines get `500` and are discarded.
pub const MAX_COMMAND_LINE: usize = 1000;

/// Longest handler reason echoed in a reply, bytes.
const MAX_REASON: usize = 200;

/// The SMTP envelope of one message: who the sending server says it is from and for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM reverse path; empty for a bounce (null sender `<>`).
    pub mail_from: String,
    /// RCPT TO addresses, as given, each in an accepted domain.
    pub rcpt_to: Vec<String>,
    /// The connecting client (usually the MTA in front of us).
    pub client_addr: SocketAddr,
    /// The name the client gave in EHLO/HELO.
    pub helo: String,
}

/// Why the handler refused a message; becomes the reply to DATA.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// `451 4.3.0`: the sending server keeps the message and retries later (e.g. the
    /// store is unavailable).
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// `550 5.7.1`: the sending server bounces the message.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Why the server turned a connection away (for the handler's metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections_per_ip` sessions from this address were open: `421`, closed.
    PerAddress,
    /// `max_connections` sessions were open: `421`, closed.
    Busy,
    /// No command within `first_command_timeout_ms` of the greeting: `421`, closed.
    Idle,
}

impl Refusal {
    /// A bounded metric label: `per_ip`, `busy`, `idle`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::PerAddress => "per_ip",
            Refusal::Busy => "busy",
            Refusal::Idle => "idle",
        }
    }
}

/// What the engine does with a received message. `deliver` returns `Ok` only once the
/// message is durable: that is when we answer `250`.
#[async_trait]
pub trait MailHandler: Send + Sync + 'static {
    /// One parsed message; `raw_size` is its size in bytes as received (after
    /// dot-unstuffing, line ends as CRLF).
    async fn deliver(
        &self,
        envelope: Envelope,
        message: ParsedEmail,
        raw_size: usize,
    ) -> Result<(), Reject>;

    /// A connection was turned away or closed by a limit (for metrics). Called on the
    /// accept loop or the session's task: must return at once. Default: nothing.
    fn refused(&self, _reason: Refusal) {}
}

/// Entry point: [`SmtpServer::bind`].
pub struct SmtpServer;

impl SmtpServer {
    /// Listens on `settings.listen` and serves SMTP until the handle is shut down or
    /// dropped. Port 0 picks a free port (see [`SmtpHandle::local_addr`]).
    pub async fn bind(
        settings: EmailSettings,
        handler: Arc<dyn MailHandler>,
    ) -> std::io::Result<SmtpHandle> {
        let listener = TcpListener::bind(settings.listen).await?;
        let local_addr = listener.local_addr()?;
        let permits = settings
            .max_connections
            .min(Semaphore::MAX_PERMITS)
            .min(u32::MAX as usize);
        let sessions = Arc::new(Semaphore::new(permits));
        let (stop_tx, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared::new(settings, handler));
        info!(addr = %local_addr, "smtp server listening");
        let accept = tokio::spawn(accept_loop(listener, shared, sessions.clone(), stop_rx));
        Ok(SmtpHandle {
            local_addr,
            stop: stop_tx,
            accept: Some(accept),
            sessions,
            permits: permits as u32,
        })
    }
}

/// A running server. Dropping it stops the server without waiting.
pub struct SmtpHandle {
    /// The address actually bound (useful with port 0).
    pub local_addr: SocketAddr,
    /// `true` tells the accept loop and idle sessions to stop.
    stop: watch::Sender<bool>,
    /// The accept loop, awaited by `shutdown`.
    accept: Option<JoinHandle<()>>,
    /// One permit per live session; holding all of them means no session is left.
    sessions: Arc<Semaphore>,
    /// `max_connections` as permits.
    permits: u32,
}

impl SmtpHandle {
    /// Stops accepting connections, tells sessions waiting for a command `421` and
    /// closes them, and returns once every session has ended. A session in the middle
    /// of DATA or of `deliver` finishes that message first (wrap this in a timeout to
    /// bound the wait).
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(accept) = self.accept.take() {
            if let Err(e) = accept.await {
                warn!(error = %e, "smtp accept loop ended abnormally");
            }
        }
        // Every session holds a permit until it ends.
        let _all = self.sessions.acquire_many(self.permits).await;
        info!(addr = %self.local_addr, "smtp server stopped");
    }
}

impl Drop for SmtpHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// What every session shares.
struct Shared {
    settings: EmailSettings,
    handler: Arc<dyn MailHandler>,
    /// `accept_domains`, lowercased without a trailing dot.
    accept_domains: Vec<String>,
    /// Open sessions per client address (only addresses with one or more), for
    /// `max_connections_per_ip`. A std mutex: held for one map operation, never across
    /// an await.
    per_address: Mutex<HashMap<IpAddr, usize>>,
}

impl Shared {
    fn new(settings: EmailSettings, handler: Arc<dyn MailHandler>) -> Self {
        let accept_domains = settings
            .accept_domains
            .iter()
            .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .collect();
        Self {
            settings,
            handler,
            accept_domains,
            per_address: Mutex::new(HashMap::new()),
        }
    }

    fn accepts_domain(&self, domain: &str) -> bool {
        let domain = domain.trim_end_matches('.');
        self.accept_domains.is_empty()
            || self
                .accept_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain))
    }
}

/// Resolves once `stop` is set or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            return;
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    sessions: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stopped(&mut stop) => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                warn!(error = %e, "smtp accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            debug!(error = %e, "smtp set_nodelay failed");
        }
        // The per-address count first: a client over its share takes no global slot.
        let Some(slot) = AddressSlot::claim(&shared, peer.ip()) else {
            warn!(peer = %peer, limit = shared.settings.max_connections_per_ip, "smtp session refused: too many connections from this address");
            refuse(
                &shared,
                &stream,
                Refusal::PerAddress,
                "4.7.0",
                "too many connections from your address",
            );
            continue;
        };
        match sessions.clone().try_acquire_owned() {
            Ok(permit) => {
                let shared = shared.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut session = Session::new(&shared, peer, stop);
                    if let Err(e) = session.run(stream).await {
                        debug!(peer = %peer, error = %e, "smtp session ended with an i/o error");
                    }
                    drop(slot);
                    drop(permit);
                });
            }
            Err(_) => {
                drop(slot);
                warn!(peer = %peer, "smtp session refused: too many connections");
                refuse(&shared, &stream, Refusal::Busy, "4.3.2", "too busy");
            }
        }
    }
    debug!("smtp accept loop stopped");
}

/// Answers a connection we do not serve with `421 {status} {hostname} {why}, try again
/// later`; the caller drops (closes) it right after.
fn refuse(shared: &Shared, stream: &TcpStream, reason: Refusal, status: &str, why: &str) {
    shared.handler.refused(reason);
    let reply = format!(
        "421 {status} {} {why}, try again later\r\n",
        shared.settings.hostname
    );
    // A fresh socket's send buffer is empty: this never blocks.
    let _ = stream.try_write(reply.as_bytes());
}

/// One open session of a client address, counted in [`Shared::per_address`] while it
/// lives.
struct AddressSlot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl AddressSlot {
    /// A slot for `ip`, or `None` if it has `max_connections_per_ip` sessions open.
    /// IPv4-mapped IPv6 addresses count as their IPv4 address.
    fn claim(shared: &Arc<Shared>, ip: IpAddr) -> Option<Self> {
        let ip = ip.to_canonical();
        let mut open = shared
            .per_address
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= shared.settings.max_connections_per_ip {
            if *n == 0 {
                open.remove(&ip);
            }
            return None;
        }
        *n += 1;
        Some(Self {
            shared: shared.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self
            .shared
            .per_address
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// How a line read ended.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A whole line (with its `\n`) is in the buffer.
    Complete,
    /// The line was longer than the limit; `len` bytes were read and dropped.
    TooLong { len: usize },
    /// The client closed the connection (a partial last line is dropped).
    Eof,
}

/// Reads one line ending in `\n` into `buf` (cleared first), keeping at most `limit`
/// bytes; a longer line is consumed and dropped so the stream stays in step.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Line> {
    buf.clear();
    let mut dropped: Option<usize> = None;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(Line::Eof);
        }
        let (n, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        match dropped.as_mut() {
            Some(len) => *len += n,
            None if buf.len() + n > limit => {
                dropped = Some(buf.len() + n);
                buf.clear();
            }
            None => buf.extend_from_slice(&available[..n]),
        }
        reader.consume(n);
        if done {
            return Ok(match dropped {
                Some(len) => Line::TooLong { len },
                None => Line::Complete,
            });
        }
    }
}

/// `line` without its `\r\n` or `\n`.
fn without_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// What reading DATA gave.
enum Data {
    /// The message, dot-unstuffed, line ends CRLF.
    Message(Vec<u8>),
    /// Over the limit; `size` bytes were received before the terminating dot.
    TooLarge { size: usize },
    /// The client closed the connection before the terminating dot.
    Eof,
}

/// Reads DATA up to the line `.`: removes dot-stuffing, accepts bare LF line ends
/// (stored as CRLF), and never holds more than `max` bytes: past it the rest is read
/// and dropped, so the session can go on.
async fn read_data<R: AsyncBufRead + Unpin>(reader: &mut R, max: usize) -> std::io::Result<Data> {
    let mut message = Vec::new();
    let mut line = Vec::new();
    let mut too_large: Option<usize> = None;
    loop {
        // Room for what is left plus a stuffed dot and the line end, so the
        // terminator is always recognised; once over, only short lines matter.
        let limit = match too_large {
            Some(_) => 8,
            None => max.saturating_sub(message.len()) + 3,
        };
        match read_line(reader, &mut line, limit).await? {
            Line::Eof => return Ok(Data::Eof),
            Line::TooLong { len } => {
                let size = too_large.unwrap_or(message.len()) + len;
                too_large = Some(size);
                message = Vec::new();
                continue;
            }
            Line::Complete => {}
        }
        let content = without_line_end(&line);
        if content == b"." {
            return Ok(match too_large {
                Some(size) => Data::TooLarge { size },
                None => Data::Message(message),
            });
        }
        if let Some(size) = too_large.as_mut() {
            *size += line.len();
            continue;
        }
        let content = content.strip_prefix(b".").unwrap_or(content);
        if message.len() + content.len() + 2 > max {
            too_large = Some(message.len() + content.len() + 2);
            message = Vec::new();
            continue;
        }
        message.extend_from_slice(content);
        message.extend_from_slice(b"\r\n");
    }
}

/// Whether the session goes on after a command.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// One SMTP connection's state.
struct Session<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
    /// EHLO/HELO argument; `None` until the client greeted.
    helo: Option<String>,
    /// Reverse path of the open transaction (`Some("")` for the null sender).
    mail_from: Option<String>,
    /// Accepted recipients of the open transaction.
    rcpt_to: Vec<String>,
}

type Writer = BufWriter<OwnedWriteHalf>;
type Reader = BufReader<OwnedReadHalf>;

impl<'a> Session<'a> {
    fn new(shared: &'a Shared, peer: SocketAddr, stop: watch::Receiver<bool>) -> Self {
        Self {
            shared,
            peer,
            stop,
            helo: None,
            mail_from: None,
            rcpt_to: Vec::new(),
        }
    }

    fn settings(&self) -> &EmailSettings {
        &self.shared.settings
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }

    async fn run(&mut self, stream: TcpStream) -> std::io::Result<()> {
        let (r, w) = stream.into_split();
        let mut reader = BufReader::new(r);
        let mut writer = BufWriter::new(w);
        let greeting = format!("220 {} ESMTP Switchboard", self.settings().hostname);
        reply(&mut writer, &greeting).await?;
        let command_timeout = Duration::from_millis(self.settings().command_timeout_ms);
        // Until the client says anything, a shorter wait: an idle connection holds a
        // session slot and its address's share.
        let mut timeout = command_timeout.min(Duration::from_millis(
            self.settings().first_command_timeout_ms,
        ));
        let mut first = true;
        let mut line = Vec::with_capacity(128);
        loop {
            let read = tokio::select! {
                biased;
                _ = stopped(&mut self.stop) => {
                    let bye = format!("421 4.3.2 {} shutting down", self.settings().hostname);
                    reply(&mut writer, &bye).await?;
                    writer.flush().await?;
                    return Ok(());
                }
                read = tokio::time::timeout(timeout, async {
                    // Replies to pipelined commands go out together, once the client
                    // has nothing more buffered.
                    if reader.buffer().is_empty() {
                        writer.flush().await?;
                    }
                    read_line(&mut reader, &mut line, MAX_COMMAND_LINE).await
                }) => read,
            };
            let Ok(read) = read else {
                if first {
                    self.shared.handler.refused(Refusal::Idle);
                    info!(peer = %self.peer, "smtp session closed: no command after the greeting");
                } else {
                    debug!(peer = %self.peer, "smtp command timeout");
                }
                let bye = format!("421 4.4.2 {} timeout, closing", self.settings().hostname);
                reply(&mut writer, &bye).await?;
                writer.flush().await?;
                return Ok(());
            };
            if first {
                first = false;
                timeout = command_timeout;
            }
            match read? {
                Line::Eof => return Ok(()),
                Line::TooLong { .. } => {
                    reply(&mut writer, "500 5.5.2 line too long").await?;
                    continue;
                }
                Line::Complete => {}
            }
            let command = String::from_utf8_lossy(without_line_end(&line)).into_owned();
            if self.command(&command, &mut reader, &mut writer).await? == Flow::Close {
                writer.flush().await?;
                return Ok(());
            }
        }
    }

    async fn command(
        &mut self,
        line: &str,
        reader: &mut Reader,
        writer: &mut Writer,
    ) -> std::io::Result<Flow> {
        let (verb, arg) = match line.split_once(' ') {
            Some((verb, arg)) => (verb, arg.trim()),
            None => (line.trim(), ""),
        };
        let verb = verb.to_ascii_uppercase();
        let text = match verb.as_str() {
            "EHLO" | "HELO" if arg.is_empty() => {
                format!("501 5.5.4 {verb} needs a domain or address literal")
            }
            "EHLO" => {
                self.reset();
                self.helo = Some(arg.to_owned());
                format!(
                    "250-{} greets {}\r\n250-SIZE {}\r\n250-8BITMIME\r\n250-PIPELINING\r\n\
                     250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250 HELP",
                    self.settings().hostname,
                    one_line(arg),
                    self.settings().max_message_bytes
                )
            }
            "HELO" => {
                self.reset();
                self.helo = Some(arg.to_owned());
                format!("250 {}", self.settings().hostname)
            }
            "MAIL" => self.mail(arg),
            "RCPT" => self.rcpt(arg),
            "DATA" => return self.data(arg, reader, writer).await,
            "RSET" => {
                self.reset();
                "250 2.0.0 Ok".to_owned()
            }
            "NOOP" => "250 2.0.0 Ok".to_owned(),
            "QUIT" => {
                reply(writer, "221 2.0.0 Bye").await?;
                return Ok(Flow::Close);
            }
            "VRFY" => "252 2.5.0 Cannot verify the user, but will accept the message".to_owned(),
            "HELP" => {
                "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP".to_owned()
            }
            "STARTTLS" | "AUTH" | "EXPN" | "BDAT" | "TURN" | "ETRN" => {
                format!("502 5.5.1 {verb} not implemented")
            }
            "" => "500 5.5.2 empty command".to_owned(),
            _ => "500 5.5.2 command unrecognized".to_owned(),
        };
        reply(writer, &text).await?;
        Ok(Flow::Continue)
    }

    fn mail(&mut self, arg: &str) -> String {
        if self.helo.is_none() {
            return "503 5.5.1 send EHLO or HELO first".to_owned();
        }
        if self.mail_from.is_some() {
            return "503 5.5.1 nested MAIL command".to_owned();
        }
        let (path, params) = match parse_path(arg, "FROM:") {
            Ok(parsed) => parsed,
            Err(reason) => return format!("501 5.5.4 {reason}"),
        };
        if !path.is_empty() && !is_address(&path) {
            return "501 5.1.7 bad sender address syntax".to_owned();
        }
        for param in params.split_whitespace() {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            match key.to_ascii_uppercase().as_str() {
                "SIZE" => match value.parse::<u64>() {
                    Ok(size) if size > self.settings().max_message_bytes as u64 => {
                        return format!(
                            "552 5.3.4 message size {size} exceeds the limit of {} bytes",
                            self.settings().max_message_bytes
                        );
                    }
                    Ok(_) => {}
                    Err(_) => return "501 5.5.4 bad SIZE value".to_owned(),
                },
                "BODY"
                    if ["7BIT", "8BITMIME"]
                        .iter()
                        .any(|b| b.eq_ignore_ascii_case(value)) => {}
                "SMTPUTF8" if value.is_empty() => {}
                _ => return format!("555 5.5.4 unsupported parameter {}", one_line(key)),
            }
        }
        self.mail_from = Some(path);
        "250 2.1.0 Ok".to_owned()
    }

    fn rcpt(&mut self, arg: &str) -> String {
        if self.mail_from.is_none() {
            return "503 5.5.1 need MAIL before RCPT".to_owned();
        }
        let (path, params) = match parse_path(arg, "TO:") {
            Ok(parsed) => parsed,
            Err(reason) => return format!("501 5.5.4 {reason}"),
        };
        if !params.trim().is_empty() {
            return "555 5.5.4 RCPT parameters not supported".to_owned();
        }
        let Some((_, domain)) = path.rsplit_once('@').filter(|_| is_address(&path)) else {
            return "501 5.1.3 bad recipient address syntax".to_owned();
        };
        if !self.shared.accepts_domain(domain) {
            return format!("550 5.7.1 we do not accept mail for {domain}");
        }
        if self.rcpt_to.len() >= self.settings().max_recipients {
            return "452 4.5.3 too many recipients".to_owned();
        }
        self.rcpt_to.push(path);
        "250 2.1.5 Ok".to_owned()
    }

    async fn data(
        &mut self,
        arg: &str,
        reader: &mut Reader,
        writer: &mut Writer,
    ) -> std::io::Result<Flow> {
        if self.mail_from.is_none() || self.rcpt_to.is_empty() {
            reply(writer, "503 5.5.1 need MAIL and RCPT before DATA").await?;
            return Ok(Flow::Continue);
        }
        if !arg.is_empty() {
            reply(writer, "501 5.5.4 DATA takes no argument").await?;
            return Ok(Flow::Continue);
        }
        reply(writer, "354 End data with <CR><LF>.<CR><LF>").await?;
        writer.flush().await?;

        let max = self.settings().max_message_bytes;
        let data_timeout = Duration::from_millis(self.settings().data_timeout_ms);
        let data = match tokio::time::timeout(data_timeout, read_data(reader, max)).await {
            Ok(data) => data?,
            Err(_) => {
                debug!(peer = %self.peer, "smtp data timeout");
                let bye = format!(
                    "421 4.4.2 {} data timeout, closing",
                    self.settings().hostname
                );
                reply(writer, &bye).await?;
                return Ok(Flow::Close);
            }
        };
        let text = match data {
            Data::Eof => return Ok(Flow::Close),
            Data::TooLarge { size } => {
                self.reset();
                let e = EmailError::TooLarge { size, limit: max };
                info!(peer = %self.peer, size, limit = max, "smtp message refused: too large");
                format!("552 5.3.4 {e}")
            }
            Data::Message(raw) => self.deliver(raw).await,
        };
        reply(writer, &text).await?;
        Ok(Flow::Continue)
    }

    /// Parses and hands over one message; the reply to DATA.
    async fn deliver(&mut self, raw: Vec<u8>) -> String {
        let mail_from = self.mail_from.take().unwrap_or_default();
        let rcpt_to = std::mem::take(&mut self.rcpt_to);
        let raw_size = raw.len();
        let max_text = self.settings().max_text_bytes;
        // Decoding a large MIME message can take milliseconds: off the async threads.
        let parsed = tokio::task::spawn_blocking(move || parse_message(&raw, max_text)).await;
        let mut message = match parsed {
            Ok(Ok(message)) => message,
            Ok(Err(e)) => {
                info!(peer = %self.peer, error = %e, "smtp message refused: unparseable");
                return format!("554 5.6.0 {e}");
            }
            Err(e) => {
                warn!(peer = %self.peer, error = %e, "smtp message parsing failed");
                return "451 4.3.0 internal error, try again later".to_owned();
            }
        };
        let message_id = message
            .message_id
            .get_or_insert_with(|| {
                format!(
                    "{}@{}",
                    uuid::Uuid::new_v4().simple(),
                    self.shared.settings.hostname
                )
            })
            .clone();
        // A null reverse path is a bounce: as automatic as an auto-reply.
        if mail_from.is_empty() {
            message.auto_submitted = true;
        }
        let envelope = Envelope {
            mail_from,
            rcpt_to,
            client_addr: self.peer,
            helo: self.helo.clone().unwrap_or_default(),
        };
        // The sender's header: escaped wherever it is printed.
        let logged = Escaped::new(&message_id);
        match self
            .shared
            .handler
            .deliver(envelope, message, raw_size)
            .await
        {
            Ok(()) => {
                info!(peer = %self.peer, message_id = %logged, size = raw_size, "smtp message accepted");
                format!(
                    "250 2.0.0 Ok: queued as <{}>",
                    Escaped::with_max(&message_id, MAX_REASON)
                )
            }
            Err(Reject::Temporary(reason)) => {
                info!(peer = %self.peer, message_id = %logged, "smtp message deferred by handler");
                format!("451 4.3.0 {}", one_line(&reason))
            }
            Err(Reject::Permanent(reason)) => {
                info!(peer = %self.peer, message_id = %logged, "smtp message rejected by handler");
                format!("550 5.7.1 {}", one_line(&reason))
            }
        }
    }
}

/// Writes one reply (possibly multi-line, joined by CRLF) and its final CRLF.
async fn reply(writer: &mut Writer, text: &str) -> std::io::Result<()> {
    writer.write_all(text.as_bytes()).await?;
    writer.write_all(b"\r\n").await
}

/// A handler's reason made safe for a reply line: no line breaks, bounded length.
fn one_line(reason: &str) -> String {
    let mut s: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.len() > MAX_REASON {
        let mut cut = MAX_REASON;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// Parses `FROM:<path> params` / `TO:<path> params` (keyword case-insensitive, a space
/// after the colon tolerated, a source route `@a,@b:` dropped).
fn parse_path<'l>(arg: &'l str, keyword: &str) -> Result<(String, &'l str), &'static str> {
    let rest = arg
        .get(..keyword.len())
        .filter(|k| k.eq_ignore_ascii_case(keyword))
        .map(|_| arg[keyword.len()..].trim_start())
        .ok_or("syntax: expected FROM:<address> or TO:<address>")?;
    let rest = rest
        .strip_prefix('<')
        .ok_or("syntax: address must be in angle brackets")?;
    let (path, params) = rest
        .split_once('>')
        .ok_or("syntax: missing closing angle bracket")?;
    let path = match path.strip_prefix('@') {
        Some(route) => route.split_once(':').map(|(_, p)| p).unwrap_or(""),
        None => path,
    };
    Ok((path.trim().to_owned(), params.trim()))
}

/// Fuzz entry (see `switchboard::fuzz`): `input` as a `MAIL FROM:` argument and as a DATA
/// stream read with a `max`-byte limit; the limit must hold. Returns whether the path
/// parsed.
#[doc(hidden)]
pub fn fuzz_input(input: &[u8], max: usize) -> bool {
    let text = String::from_utf8_lossy(input);
    let accepted = parse_path(&text, "FROM:").is_ok();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime builds");
    let mut reader = input;
    if let Ok(Data::Message(m)) = rt.block_on(read_data(&mut reader, max)) {
        assert!(
            m.len() <= max,
            "DATA kept {} bytes over its {max}-byte limit",
            m.len()
        );
    }
    accepted
}

/// `local@domain`, both non-empty, no spaces or control characters.
fn is_address(path: &str) -> bool {
    match path.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !path.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{
        test_settings, Recorder, JAPANESE_MULTIPART, JAPANESE_PDF_LEN, JAPANESE_TEXT,
    };

    /// Every test finishes well within this, or fails instead of hanging.
    const TEST_DEADLINE: Duration = Duration::from_secs(20);

    /// A raw SMTP client over TCP.
    struct Client {
        reader: BufReader<OwnedReadHalf>,
        writer: OwnedWriteHalf,
    }

    impl Client {
        async fn connect(addr: SocketAddr) -> Self {
            let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
            Self {
                reader: BufReader::new(r),
                writer: w,
            }
        }

        async fn send(&mut self, text: &str) {
            self.writer.write_all(text.as_bytes()).await.unwrap();
        }

        /// One reply: its code and its lines (text after the code).
        async fn reply(&mut self) -> (u16, Vec<String>) {
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                let n = self.reader.read_line(&mut line).await.unwrap();
                assert!(n > 0, "connection closed while waiting for a reply");
                let line = line.trim_end();
                let code: u16 = line[..3].parse().unwrap();
                lines.push(line[4..].to_owned());
                if line.as_bytes()[3] == b' ' {
                    return (code, lines);
                }
            }
        }

        async fn code(&mut self) -> u16 {
            self.reply().await.0
        }

        /// Sends a command and returns the first line of the reply with its code.
        async fn cmd(&mut self, text: &str) -> String {
            self.send(&format!("{text}\r\n")).await;
            let (code, lines) = self.reply().await;
            format!("{code} {}", lines[0])
        }

        /// MAIL, RCPT, DATA and `body`; the reply to the message.
        async fn transaction(&mut self, body: &str) -> String {
            assert_eq!(self.cmd("MAIL FROM:<a@example.com>").await, "250 2.1.0 Ok");
            assert_eq!(
                self.cmd("RCPT TO:<support@switchboard.local>").await,
                "250 2.1.5 Ok"
            );
            assert_eq!(
                self.cmd("DATA").await,
                "354 End data with <CR><LF>.<CR><LF>"
            );
            self.cmd(&format!("{body}.")).await
        }

        async fn closed(&mut self) -> bool {
            let mut rest = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut self.reader, &mut rest)
                .await
                .map(|_| rest.is_empty())
                .unwrap_or(true)
        }
    }

    async fn within<F: std::future::Future>(f: F) -> F::Output {
        tokio::time::timeout(TEST_DEADLINE, f)
            .await
            .expect("test deadline")
    }

    #[tokio::test]
    async fn python_smtplib_delivers_japanese_multipart() {
        within(async {
            let (handler, mut rx) = Recorder::new();
            let server = SmtpServer::bind(test_settings(), handler).await.unwrap();
            let script = r#"
import smtplib, sys
data = sys.stdin.buffer.read()
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.example.jp", timeout=15)
code, _ = s.ehlo()
print("ehlo", code, " ".join(sorted(s.esmtp_features)))
print("mail", s.mail("Taro.Yamada@example.jp", ["SIZE=%d" % len(data)])[0])
print("rcpt", s.rcpt("support@switchboard.local")[0])
code, msg = s.data(data)
print("data", code, msg.decode())
s.quit()
"#;
            let mut child = tokio::process::Command::new("python3")
                .arg("-c")
                .arg(script)
                .arg(server.local_addr.port().to_string())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("python3 must be installed for this test");
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(JAPANESE_MULTIPART).await.unwrap();
            drop(stdin);
            let out = child.wait_with_output().await.unwrap();
            assert!(
                out.status.success(),
                "python failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8(out.stdout).unwrap(),
                "ehlo 250 8bitmime enhancedstatuscodes help pipelining size smtputf8\n\
                 mail 250\nrcpt 250\ndata 250 2.0.0 Ok: queued as <jp-1@example.jp>\n"
            );

            let (envelope, message, raw_size) = rx.recv().await.unwrap();
            assert_eq!(envelope.mail_from, "Taro.Yamada@example.jp");
            assert_eq!(
                envelope.rcpt_to,
                vec!["support@switchboard.local".to_owned()]
            );
            assert_eq!(envelope.helo, "client.example.jp");
            assert_eq!(envelope.client_addr.ip().to_string(), "127.0.0.1");
            assert_eq!(raw_size, JAPANESE_MULTIPART.len());
            assert_eq!(message.text, JAPANESE_TEXT);
            assert_eq!(message.subject.as_deref(), Some("注文について"));
            assert_eq!(message.from_address, "taro.yamada@example.jp");
            assert_eq!(message.from_name.as_deref(), Some("山田太郎"));
            let a = &message.attachments;
            assert_eq!(a.len(), 1);
            assert_eq!(a[0].name.as_deref(), Some("請求書.pdf"));
            assert_eq!(a[0].content_type, "application/pdf");
            assert_eq!(a[0].size, JAPANESE_PDF_LEN);
            assert_eq!(a[0].bytes.len() as u64, JAPANESE_PDF_LEN);
            server.shutdown().await;
        })
        .await;
    }

    #[tokio::test]
    async fn pipelining_dot_stuffing_and_domain_check() {
        within(async {
            let (handler, mut rx) = Recorder::new();
            let server = SmtpServer::bind(test_settings(), handler).await.unwrap();
            let mut c = Client::connect(server.local_addr).await;
            assert_eq!(
                c.reply().await,
                (220, vec!["switchboard.local ESMTP Switchboard".to_owned()])
            );
            // One write, five commands: the replies come back in order.
            c.send(
                "EHLO mx.example.com\r\nMAIL FROM:<a@example.com> BODY=8BITMIME\r\n\
                 RCPT TO:<Support@Switchboard.Local>\r\nRCPT TO:<bob@elsewhere.com>\r\nDATA\r\n",
            )
            .await;
            let (code, ehlo) = c.reply().await;
            assert_eq!(code, 250);
            assert_eq!(
                ehlo,
                vec![
                    "switchboard.local greets mx.example.com",
                    "SIZE 10485760",
                    "8BITMIME",
                    "PIPELINING",
                    "SMTPUTF8",
                    "ENHANCEDSTATUSCODES",
                    "HELP"
                ]
            );
            assert_eq!(c.reply().await, (250, vec!["2.1.0 Ok".to_owned()]));
            assert_eq!(c.reply().await, (250, vec!["2.1.5 Ok".to_owned()]));
            assert_eq!(
                c.reply().await,
                (
                    550,
                    vec!["5.7.1 we do not accept mail for elsewhere.com".to_owned()]
                )
            );
            assert_eq!(c.code().await, 354);
            // Bare LF line ends and a dot-stuffed line.
            c.send("From: a@example.com\nSubject: dots\n\n..leading dot\nline two\r\n.\r\n")
                .await;
            let (code, lines) = c.reply().await;
            assert_eq!(code, 250);
            assert!(lines[0].starts_with("2.0.0 Ok: queued as <"), "{lines:?}");
            assert!(lines[0].ends_with("@switchboard.local>"), "{lines:?}");
            let (envelope, message, raw_size) = rx.recv().await.unwrap();
            assert_eq!(
                envelope.rcpt_to,
                vec!["Support@Switchboard.Local".to_owned()]
            );
            assert_eq!(message.text, ".leading dot\nline two");
            assert_eq!(
                raw_size,
                "From: a@example.com\r\nSubject: dots\r\n\r\n.leading dot\r\nline two\r\n".len()
            );
            // The assigned id is the one we announced.
            assert_eq!(
                lines[0],
                format!("2.0.0 Ok: queued as <{}>", message.message_id.unwrap())
            );
            assert_eq!(c.cmd("QUIT").await, "221 2.0.0 Bye");
            assert!(c.closed().await);
        })
        .await;
    }

    #[tokio::test]
    async fn bad_sequence_unknown_and_long_lines() {
        within(async {
            let (handler, mut rx) = Recorder::new();
            let server = SmtpServer::bind(test_settings(), handler).await.unwrap();
            let mut c = Client::connect(server.local_addr).await;
            assert_eq!(c.code().await, 220);
            assert_eq!(
                c.cmd("MAIL FROM:<a@example.com>").await,
                "503 5.5.1 send EHLO or HELO first"
            );
            assert_eq!(
                c.cmd("EHLO").await,
                "501 5.5.4 EHLO needs a domain or address literal"
            );
            assert_eq!(c.cmd("HELO mx.example.com").await, "250 switchboard.local");
            assert_eq!(
                c.cmd("RCPT TO:<support@switchboard.local>").await,
                "503 5.5.1 need MAIL before RCPT"
            );
            assert_eq!(
                c.cmd("DATA").await,
                "503 5.5.1 need MAIL and RCPT before DATA"
            );
            assert_eq!(
                c.cmd("MAIL FROM:a@example.com").await,
                "501 5.5.4 syntax: address must be in angle brackets"
            );
            assert_eq!(c.cmd("mail from:<>").await, "250 2.1.0 Ok");
            assert_eq!(
                c.cmd("MAIL FROM:<a@example.com>").await,
                "503 5.5.1 nested MAIL command"
            );
            assert_eq!(
                c.cmd("DATA").await,
                "503 5.5.1 need MAIL and RCPT before DATA"
            );
            assert_eq!(
                c.cmd("RCPT TO:<nobody>").await,
                "501 5.1.3 bad recipient address syntax"
            );
            assert_eq!(c.cmd("RSET").await, "250 2.0.0 Ok");
            assert_eq!(
                c.cmd("MAIL FROM:<a@example.com> AUTH=<>").await,
                "555 5.5.4 unsupported parameter AUTH"
            );
            assert_eq!(
                c.cmd("MAIL FROM:<a@example.com> SIZE=big").await,
                "501 5.5.4 bad SIZE value"
            );
            assert_eq!(
                c.cmd("RCPT TO:<support@switchboard.local>").await,
                "503 5.5.1 need MAIL before RCPT"
            );
            assert_eq!(c.cmd("FROB").await, "500 5.5.2 command unrecognized");
            assert_eq!(
                c.cmd("STARTTLS").await,
                "502 5.5.1 STARTTLS not implemented"
            );
            assert_eq!(
                c.cmd("VRFY root").await,
                "252 2.5.0 Cannot verify the user, but will accept the message"
            );
            assert_eq!(c.cmd("NOOP").await, "250 2.0.0 Ok");
            assert!(c.cmd("HELP").await.starts_with("214 2.0.0 Commands:"));
            assert_eq!(
                c.cmd(&format!("NOOP {}", "x".repeat(2000))).await,
                "500 5.5.2 line too long"
            );
            // The session is still in step after the long line.
            assert_eq!(c.cmd("NOOP").await, "250 2.0.0 Ok");
            assert_eq!(c.cmd("QUIT").await, "221 2.0.0 Bye");
            assert!(c.closed().await);
            drop(server);
            assert!(rx.recv().await.is_none(), "nothing was delivered");
        })
        .await;
    }

    #[tokio::test]
    async fn oversize_is_refused_and_session_stays_usable() {
        within(async {
            let (handler, mut rx) = Recorder::new();
            let settings = EmailSettings {
                max_message_bytes: 1000,
                max_recipients: 2,
                ..test_settings()
            };
            let server = SmtpServer::bind(settings, handler).await.unwrap();
            let mut c = Client::connect(server.local_addr).await;
            assert_eq!(c.code().await, 220);
            c.send("EHLO mx.example.com\r\n").await;
            assert!(c.reply().await.1.contains(&"SIZE 1000".to_owned()));
            assert_eq!(
                c.cmd("MAIL FROM:<a@example.com> SIZE=5000").await,
                "552 5.3.4 message size 5000 exceeds the limit of 1000 bytes"
            );
            assert_eq!(
                c.cmd("MAIL FROM:<a@example.com> SIZE=900").await,
                "250 2.1.0 Ok"
            );
            assert_eq!(
                c.cmd("RCPT TO:<one@switchboard.local>").await,
                "250 2.1.5 Ok"
            );
            assert_eq!(
                c.cmd("RCPT TO:<two@switchboard.local>").await,
                "250 2.1.5 Ok"
            );
            assert_eq!(
                c.cmd("RCPT TO:<three@switchboard.local>").await,
                "452 4.5.3 too many recipients"
            );
            assert_eq!(c.cmd("DATA").await, "354 End data with <CR><LF>.<CR><LF>");
            // 3,000 bytes of short lines, then one line far over the limit.
            let mut big = "From: a@example.com\r\n\r\n".to_owned();
            for _ in 0..100 {
                big.push_str(&"y".repeat(28));
                big.push_str("\r\n");
            }
            big.push_str(&"z".repeat(5000));
            big.push_str("\r\n.\r\n");
            c.send(&big).await;
            let (code, lines) = c.reply().await;
            assert_eq!(code, 552);
            assert_eq!(lines[0], "5.3.4 message too large: 8025 bytes, limit 1000");
            // The transaction is gone, the session is not.
            assert_eq!(
                c.cmd("RCPT TO:<one@switchboard.local>").await,
                "503 5.5.1 need MAIL before RCPT"
            );
            assert_eq!(c.cmd("MAIL FROM:<a@example.com>").await, "250 2.1.0 Ok");
            assert_eq!(
                c.cmd("RCPT TO:<one@switchboard.local>").await,
                "250 2.1.5 Ok"
            );
            assert_eq!(c.cmd("DATA").await, "354 End data with <CR><LF>.<CR><LF>");
            c.send("From: a@example.com\r\nMessage-ID: <small@example.com>\r\n\r\nsmall\r\n.\r\n")
                .await;
            assert_eq!(
                c.reply().await,
                (
                    250,
                    vec!["2.0.0 Ok: queued as <small@example.com>".to_owned()]
                )
            );
            let (_, message, _) = rx.recv().await.unwrap();
            assert_eq!(message.text, "small");
            assert!(
                rx.try_recv().is_err(),
                "the oversize message was not delivered"
            );
        })
        .await;
    }

    #[tokio::test]
    async fn handler_and_parse_rejections() {
        within(async {
            let (handler, mut rx) = Recorder::new();
            let server = SmtpServer::bind(test_settings(), handler.clone())
                .await
                .unwrap();
            let mut c = Client::connect(server.local_addr).await;
            assert_eq!(c.code().await, 220);
            assert_eq!(c.cmd("HELO mx.example.com").await, "250 switchboard.local");
            let ok = "From: a@example.com\r\nMessage-ID: <m1@example.com>\r\n\r\nhello\r\n";

            handler.answer(Err(Reject::Temporary("store unavailable".to_owned())));
            assert_eq!(c.transaction(ok).await, "451 4.3.0 store unavailable");
            handler.answer(Err(Reject::Permanent("blocked\r\nsender".to_owned())));
            assert_eq!(c.transaction(ok).await, "550 5.7.1 blocked  sender");
            handler.answer(Ok(()));
            assert_eq!(
                c.transaction("Subject: no sender\r\n\r\nhello\r\n").await,
                "554 5.6.0 message has no From address"
            );
            assert_eq!(
                c.transaction("\r\n").await,
                "554 5.6.0 malformed message: empty message"
            );
            assert!(rx.try_recv().is_err(), "nothing delivered so far");
            assert_eq!(
                c.transaction(ok).await,
                "250 2.0.0 Ok: queued as <m1@example.com>"
            );
            let (_, message, _) = rx.recv().await.unwrap();
            assert_eq!(message.text, "hello");
            assert!(!message.auto_submitted);

            // A bounce (null reverse path) is automatic mail.
            assert_eq!(c.cmd("MAIL FROM:<>").await, "250 2.1.0 Ok");
            assert_eq!(
                c.cmd("RCPT TO:<support@switchboard.local>").await,
                "250 2.1.5 Ok"
            );
            assert_eq!(c.cmd("DATA").await, "354 End data with <CR><LF>.<CR><LF>");
            c.send("From: mailer-daemon@example.com\r\n\r\nundeliverable\r\n.\r\n")
                .await;
            assert_eq!(c.code().await, 250);
            let (envelope, message, _) = rx.recv().await.unwrap();
            assert_eq!(envelope.mail_from, "");
            assert!(message.auto_submitted);
        })
        .await;
    }

    #[tokio::test]
    async fn header_junk_is_escaped_in_the_reply() {
        within(async {
            let (handler, mut rx) = Recorder::new();
            let server = SmtpServer::bind(test_settings(), handler).await.unwrap();
            let mut c = Client::connect(server.local_addr).await;
            assert_eq!(c.code().await, 220);
            assert_eq!(c.cmd("HELO mx.example.com").await, "250 switchboard.local");
            let junk = "From: a@example.com\r\nSubject: s\x1b[31mred\rcr\x00nul\r\n\
                        Message-ID: <m\x1b[31mred\rcr\x00nul@example.com>\r\n\r\nhello\r\n";
            // The reply shows the id escaped; the handler still gets it as sent.
            assert_eq!(
                c.transaction(junk).await,
                "250 2.0.0 Ok: queued as <m\\x1b[31mred\\rcr\\0nul@example.com>"
            );
            let (_, message, _) = rx.recv().await.unwrap();
            assert_eq!(
                message.message_id.as_deref(),
                Some("m\x1b[31mred\rcr\x00nul@example.com")
            );
        })
        .await;
    }

    #[tokio::test]
    async fn idle_client_times_out() {
        within(async {
            let (handler, _rx) = Recorder::new();
            let settings = EmailSettings {
                command_timeout_ms: 100,
                ..test_settings()
            };
            let server = SmtpServer::bind(settings, handler).await.unwrap();
            let mut c = Client::connect(server.local_addr).await;
            assert_eq!(c.code().await, 220);
            // Say nothing: the server gives up after command_timeout_ms.
            assert_eq!(
                c.reply().await,
                (
                    421,
                    vec!["4.4.2 switchboard.local timeout, closing".to_owned()]
                )
            );
            assert!(c.closed().await);
        })
        .await;
    }

    #[tokio::test]
    async fn too_many_connections_and_shutdown() {
        within(async {
            let (handler, _rx) = Recorder::new();
            let settings = EmailSettings {
                max_connections: 1,
                ..test_settings()
            };
            let server = SmtpServer::bind(settings, handler).await.unwrap();
            let addr = server.local_addr;
            let mut first = Client::connect(addr).await;
            assert_eq!(first.code().await, 220);
            let mut second = Client::connect(addr).await;
            assert_eq!(
                second.reply().await,
                (
                    421,
                    vec!["4.3.2 switchboard.local too busy, try again later".to_owned()]
                )
            );
            assert!(second.closed().await);

            server.shutdown().await;
            assert_eq!(
                first.reply().await,
                (
                    421,
                    vec!["4.3.2 switchboard.local shutting down".to_owned()]
                )
            );
            assert!(first.closed().await);
            assert!(
                TcpStream::connect(addr).await.is_err(),
                "no longer listening"
            );
        })
        .await;
    }

    #[test]
    fn path_parsing() {
        assert_eq!(
            parse_path("FROM:<a@b.c> SIZE=1", "FROM:"),
            Ok(("a@b.c".to_owned(), "SIZE=1"))
        );
        assert_eq!(
            parse_path("from: <a@b.c>", "FROM:"),
            Ok(("a@b.c".to_owned(), ""))
        );
        assert_eq!(
            parse_path("TO:<@relay.x,@r2.y:u@d.e>", "TO:"),
            Ok(("u@d.e".to_owned(), ""))
        );
        assert_eq!(parse_path("FROM:<>", "FROM:"), Ok((String::new(), "")));
        assert!(parse_path("FROM:<a@b.c", "FROM:").is_err());
        assert!(parse_path("TO:<a@b.c>", "FROM:").is_err());
        assert!(parse_path("FR", "FROM:").is_err());
        assert!(parse_path("FRÖM:<a@b>", "FROM:").is_err());
        assert!(is_address("山田@例え.jp"));
        assert!(!is_address("a b@c.d"));
        assert!(!is_address("@c.d"));
        assert!(!is_address("a@"));
    }
}
