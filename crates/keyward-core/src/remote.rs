//! The typed client of a team's Keyward Server, derived from THE list of operations
//! ([`operations!`](macro@crate::operations)): for every operation a method of the same name
//! and arguments (`RemoteClient::key_rotate(&self, id: String) -> Result<NewKey>`) that POSTs
//! the arguments as JSON to `/api/v1/ops/{name}` and decodes the answer, or the server's
//! `{code, message, hint}` (+ `required_role`) into an [`Error`]. Beside them: [`RemoteClient::me`]
//! (`GET /api/v1/me`), [`RemoteClient::sync_start`] (the server's own operation, its progress
//! streamed) and [`EventStream`], a reader of `GET /api/v1/events` (Server-Sent Events) that
//! reconnects with `Last-Event-ID`.
//!
//! Every request leaves through the one HTTP client built in `kinde/transport.rs`
//! ([`crate::kinde::server_http`]): rustls, no redirect followed, the `KEYWARD_CA_CERT` root.
//! The member's token is a [`Secret`]: never in `Debug`, a log or an error.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorCode, Result};
use crate::kinde::{BodyError, read_capped, server_http, server_transport_error};
use crate::model::sync::{SyncProgress, SyncSummary};
use crate::operations::Role;
use crate::secret::Secret;

/// The most a server's answer may hold (a keys list of 10,000 keys is about 10 MB); also the
/// most one Server-Sent Event (or one of its lines) may hold.
pub const MAX_BODY: usize = 64 << 20;

/// `GET /api/v1/me`: who the token belongs to (the app's header shows the name and role).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Me {
    pub name: String,
    pub role: Role,
    pub server_version: String,
}

/// One Server-Sent Event: its `event` (`message` when none was named), `id` and `data` lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

impl ServerEvent {
    /// The data as JSON of type `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&self.data).map_err(|e| bad_answer(&self.event, &e))
    }
}

/// The client of one Keyward Server for one member (cheap to clone).
#[derive(Clone)]
pub struct RemoteClient {
    http: reqwest::Client,
    /// Without an overall timeout: event streams and streamed operations stay open.
    stream_http: reqwest::Client,
    base: url::Url,
    host: String,
    token: Secret,
}

impl std::fmt::Debug for RemoteClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteClient")
            .field("server", &self.base.as_str())
            .field("token", &"[redacted]")
            .finish()
    }
}

impl RemoteClient {
    /// A client of the server at `server` (checked as a profile's server URL is) for the
    /// member holding `token`; `root_cert_pem`: one more trusted root (`KEYWARD_CA_CERT`, a
    /// server's self-signed certificate in tests).
    pub fn new(server: &str, token: Secret, root_cert_pem: Option<&str>) -> Result<RemoteClient> {
        let base = crate::config::normalize_server_url(server)?;
        if token.expose().trim().is_empty() {
            return Err(Error::invalid_input(
                "token",
                "is empty",
                "Pipe the kwp_… token that `keyward-server member add` printed to --token-stdin.",
            ));
        }
        let host = match (base.host_str(), base.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => base.as_str().to_string(),
        };
        Ok(RemoteClient {
            http: server_http(root_cert_pem, Duration::from_secs(120))?,
            stream_http: server_http(root_cert_pem, Duration::ZERO)?,
            base,
            host,
            token,
        })
    }

    /// The client of the selected team profile's server, built on first use and then kept in
    /// the context (`None`: a Kinde profile or a sandbox).
    pub async fn of(ctx: &crate::ctx::AppCtx) -> Result<Option<RemoteClient>> {
        if ctx.team_slot().get().is_none() {
            // No profile yet: the operation runs locally and says so itself (nothing is kept,
            // so a profile added later on this context is seen).
            match ctx.profile().await {
                Err(e) if e.code == ErrorCode::ProfileNotFound => return Ok(None),
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        let slot = ctx
            .team_slot()
            .get_or_try_init(|| async {
                let Some((server, token)) = ctx.team_link().await? else {
                    return Ok::<_, Error>(None);
                };
                let c = RemoteClient::new(
                    &server,
                    token,
                    ctx.client_options().root_cert_pem.as_deref(),
                )?;
                Ok(Some(
                    std::sync::Arc::new(c) as std::sync::Arc<dyn std::any::Any + Send + Sync>
                ))
            })
            .await?;
        Ok(slot
            .as_ref()
            .and_then(|a| a.downcast_ref::<RemoteClient>())
            .cloned())
    }

    /// The server's address (no trailing slash).
    pub fn server(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    fn url(&self, path: &str) -> Result<url::Url> {
        self.base
            .join(path)
            .map_err(|e| Error::internal(format!("bad API path {path:?}: {e}")))
    }

    /// `GET /api/v1/me`: the member's name and role (checks the token).
    pub async fn me(&self) -> Result<Me> {
        let resp = self
            .http
            .get(self.url("api/v1/me")?)
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| server_transport_error(&self.host, "asking who you are", false, &e))?;
        let v = self.answer("me", resp).await?;
        serde_json::from_value(v).map_err(|e| bad_answer("me", &e))
    }

    /// Runs the operation `name` on the server with its arguments as a JSON object and
    /// answers its JSON (what [`crate::operations::call`] answers locally).
    pub async fn call(&self, name: &str, args: Value) -> Result<Value> {
        let writes = crate::operations::role_of(name).is_some_and(|r| r > Role::Viewer);
        let body = if args.is_null() {
            Value::Object(Default::default())
        } else {
            args
        };
        let resp = self
            .http
            .post(self.url(&format!("api/v1/ops/{name}"))?)
            .bearer_auth(self.token.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| server_transport_error(&self.host, name, writes, &e))?;
        self.answer(name, resp).await
    }

    /// Runs `name` asking for a stream (`Accept: text/event-stream`): each `progress` event
    /// goes to `on_event`, the `done` event's data is the answer, an `error` event the error.
    pub async fn call_streaming(
        &self,
        name: &str,
        args: Value,
        mut on_event: impl FnMut(&ServerEvent),
    ) -> Result<Value> {
        let body = if args.is_null() {
            Value::Object(Default::default())
        } else {
            args
        };
        let resp = self
            .stream_http
            .post(self.url(&format!("api/v1/ops/{name}"))?)
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body)
            .send()
            .await
            .map_err(|e| server_transport_error(&self.host, name, true, &e))?;
        if !is_event_stream(&resp) {
            return self.answer(name, resp).await;
        }
        let mut reader = SseReader::new(resp);
        while let Some(ev) = reader
            .next()
            .await
            .map_err(|e| e.into_error(&self.host, name, true))?
        {
            match ev.event.as_str() {
                "done" => return ev.json(),
                "error" => return Err(decode_error(0, ev.data.as_bytes())),
                _ => on_event(&ev),
            }
        }
        Err(Error::new(
            ErrorCode::Ambiguous,
            format!(
                "the Keyward Server {} ended {name}'s stream without an answer",
                self.host
            ),
            "Look at the keys list and the audit log before trying again.",
        ))
    }

    /// A sync on the server now (`sync_start`, operator), its progress to `on_progress`.
    pub async fn sync_start(
        &self,
        mut on_progress: impl FnMut(SyncProgress),
    ) -> Result<SyncSummary> {
        let v = self
            .call_streaming("sync_start", Value::Null, |ev| {
                if let Ok(p) = ev.json::<SyncProgress>() {
                    on_progress(p);
                }
            })
            .await?;
        serde_json::from_value(v).map_err(|e| bad_answer("sync_start", &e))
    }

    /// `GET /api/v1/events` from `last_event_id` on (`None`: from now).
    pub fn events(&self, last_event_id: Option<String>) -> EventStream {
        EventStream {
            client: self.clone(),
            reader: None,
            last_id: last_event_id,
            failures: 0,
            retries: 5,
        }
    }

    /// The answer's JSON, or its error body as an [`Error`].
    async fn answer(&self, what: &str, mut resp: reqwest::Response) -> Result<Value> {
        let status = resp.status().as_u16();
        // A Content-Length above the cap fails before anything is read.
        let body = match read_capped(&mut resp, MAX_BODY).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => return Err(too_large(what)),
            Err(BodyError::Read(e)) => {
                return Err(server_transport_error(&self.host, what, false, &e));
            }
        };
        if (200..300).contains(&status) {
            return serde_json::from_slice(&body).map_err(|e| bad_answer(what, &e));
        }
        Err(decode_error(status, &body))
    }
}

/// An answer or an event larger than [`MAX_BODY`].
fn too_large(what: &str) -> Error {
    Error::new(
        ErrorCode::UnexpectedResponse,
        format!(
            "the Keyward Server's answer to {what} is larger than {MAX_BODY} bytes; it was not \
             read further"
        ),
        "Check the profile's server address: this is not what a Keyward Server answers.",
    )
}

/// Why an event stream stopped.
enum SseFail {
    Read(reqwest::Error),
    /// A line or an event larger than [`MAX_BODY`].
    TooLarge,
}

impl SseFail {
    fn into_error(self, host: &str, what: &str, writes: bool) -> Error {
        match self {
            SseFail::Read(e) => server_transport_error(host, what, writes, &e),
            SseFail::TooLarge => too_large(what),
        }
    }
}

fn is_event_stream(resp: &reqwest::Response) -> bool {
    resp.status().is_success()
        && resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"))
}

fn bad_answer(what: &str, e: &serde_json::Error) -> Error {
    Error::new(
        ErrorCode::UnexpectedResponse,
        format!("the Keyward Server's answer to {what} could not be read ({e})"),
        "The server and this Keyward may be of different versions: update the older one.",
    )
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
    #[serde(default)]
    hint: String,
    #[serde(default)]
    required_role: Option<Role>,
}

/// The server's error body (`status` 0: an `error` event) as an [`Error`]. A code the core
/// knows stays itself; `forbidden` (403) says the role it needed; `unauthorized` (401) is
/// `unauthenticated`.
pub fn decode_error(status: u16, body: &[u8]) -> Error {
    let Ok(b) = serde_json::from_slice::<ErrorBody>(body) else {
        let (code, hint) = if status >= 500 {
            (
                ErrorCode::ServerError,
                "The Keyward Server failed; try again, and tell its admin if it goes on.",
            )
        } else {
            (
                ErrorCode::UnexpectedResponse,
                "Check the profile's server address: this is not what a Keyward Server answers.",
            )
        };
        return Error::new(
            code,
            format!("the Keyward Server answered HTTP {status} without an error body"),
            hint,
        );
    };
    if b.code == "forbidden" {
        let role = b.required_role.map(Role::as_str).unwrap_or("a higher role");
        return Error::new(
            FORBIDDEN,
            format!("forbidden: {} (it needs the role {role})", b.message),
            b.hint,
        );
    }
    if let Ok(code) = serde_json::from_value::<ErrorCode>(Value::String(b.code.clone())) {
        return Error::new(code, b.message, b.hint);
    }
    match b.code.as_str() {
        "unauthorized" => Error::new(ErrorCode::Unauthenticated, b.message, b.hint),
        _ => Error::new(
            if status >= 500 {
                ErrorCode::ServerError
            } else {
                ErrorCode::UnexpectedResponse
            },
            format!("{} ({})", b.message, b.code),
            b.hint,
        ),
    }
}

/// The code a 403 `forbidden` of a Keyward Server becomes (CLI exit 11); the message starts
/// with `forbidden:` and names the role needed.
pub const FORBIDDEN: ErrorCode = ErrorCode::Forbidden;

/// A Server-Sent Events parser over a response's body (`event:`, `id:`, `data:` lines, a
/// blank line ends an event, `:` lines are comments).
struct SseReader {
    resp: reqwest::Response,
    buf: Vec<u8>,
    parser: SseParser,
}

#[derive(Default)]
struct SseParser {
    cur: ServerEvent,
    has_data: bool,
}

impl SseReader {
    fn new(resp: reqwest::Response) -> SseReader {
        SseReader {
            resp,
            buf: Vec::new(),
            parser: SseParser::default(),
        }
    }

    /// The next whole event; `None` when the stream ended. A line or an event larger than
    /// [`MAX_BODY`] ends the stream with an error (memory stays bounded).
    async fn next(&mut self) -> std::result::Result<Option<ServerEvent>, SseFail> {
        loop {
            while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line[..line.len() - 1]);
                let line = line.strip_suffix('\r').unwrap_or(&line);
                if let Some(ev) = self.parser.line(line) {
                    return Ok(Some(ev));
                }
                if self.parser.cur.data.len() > MAX_BODY {
                    return Err(SseFail::TooLarge);
                }
            }
            if self.buf.len() > MAX_BODY {
                return Err(SseFail::TooLarge);
            }
            match self.resp.chunk().await.map_err(SseFail::Read)? {
                Some(c) => self.buf.extend_from_slice(&c),
                None => return Ok(None),
            }
        }
    }
}

impl SseParser {
    fn line(&mut self, line: &str) -> Option<ServerEvent> {
        if line.is_empty() {
            if !self.has_data && self.cur.event.is_empty() {
                return None;
            }
            let mut ev = std::mem::take(&mut self.cur);
            self.has_data = false;
            if ev.event.is_empty() {
                ev.event = "message".into();
            }
            return Some(ev);
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.cur.event = value.to_string(),
            "id" => self.cur.id = Some(value.to_string()),
            "data" => {
                if self.has_data {
                    self.cur.data.push('\n');
                }
                self.cur.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }
}

/// `GET /api/v1/events` as a stream of [`ServerEvent`]s that reconnects (with `Last-Event-ID`)
/// when the connection breaks.
pub struct EventStream {
    client: RemoteClient,
    reader: Option<SseReader>,
    last_id: Option<String>,
    failures: u32,
    /// Broken connections retried in a row before [`EventStream::next`] answers the error.
    retries: u32,
}

impl EventStream {
    /// Retries at most `n` broken connections in a row inside [`EventStream::next`] (default
    /// 5; 0: the first failure is answered at once, so that a caller can say "unreachable"
    /// and resume later with [`EventStream::last_event_id`]).
    #[must_use]
    pub fn retries(mut self, n: u32) -> EventStream {
        self.retries = n;
        self
    }

    /// The id of the last event read (give it to [`RemoteClient::events`] to resume).
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// The next event. A broken connection is retried (1 s, then up to 10 s apart); after 5
    /// failures in a row (see [`EventStream::retries`]) the error is answered. An error answer
    /// (401, 403…) is not retried.
    pub async fn next(&mut self) -> Result<ServerEvent> {
        loop {
            if self.reader.is_none() {
                let mut req = self
                    .client
                    .stream_http
                    .get(self.client.url("api/v1/events")?)
                    .bearer_auth(self.client.token.expose())
                    .header(reqwest::header::ACCEPT, "text/event-stream");
                if let Some(id) = &self.last_id {
                    req = req.header("Last-Event-ID", id.as_str());
                }
                match req.send().await {
                    Ok(resp) if is_event_stream(&resp) => {
                        self.reader = Some(SseReader::new(resp));
                    }
                    Ok(resp) => {
                        return Err(self.client.answer("events", resp).await.unwrap_err_or());
                    }
                    Err(e) => {
                        self.fail(server_transport_error(
                            &self.client.host,
                            "events",
                            false,
                            &e,
                        ))
                        .await?;
                        continue;
                    }
                }
            }
            let Some(reader) = self.reader.as_mut() else {
                continue;
            };
            match reader.next().await {
                Ok(Some(ev)) => {
                    self.failures = 0;
                    if let Some(id) = &ev.id {
                        self.last_id = Some(id.clone());
                    }
                    return Ok(ev);
                }
                Ok(None) => {
                    self.reader = None;
                    self.fail(Error::new(
                        ErrorCode::Network,
                        "the Keyward Server closed the event stream",
                        "It reconnects by itself.",
                    ))
                    .await?;
                }
                Err(e) => {
                    self.reader = None;
                    self.fail(e.into_error(&self.client.host, "events", false))
                        .await?;
                }
            }
        }
    }

    async fn fail(&mut self, e: Error) -> Result<()> {
        self.failures += 1;
        if self.failures > self.retries {
            self.failures = 0;
            return Err(e);
        }
        let wait = Duration::from_secs(u64::from(self.failures.min(10)).max(1));
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

/// A successful answer where an error was expected is itself an error.
trait UnwrapErrOr {
    fn unwrap_err_or(self) -> Error;
}

impl UnwrapErrOr for Result<Value> {
    fn unwrap_err_or(self) -> Error {
        match self {
            Err(e) => e,
            Ok(_) => Error::new(
                ErrorCode::UnexpectedResponse,
                "the Keyward Server did not answer the event stream with text/event-stream",
                "Check the profile's server address and any proxy in front of the server \
                 (it must pass text/event-stream through unbuffered).",
            ),
        }
    }
}

/// The doctor's input on the wire to a team's server, which diagnoses the pasted key with the
/// team's Kinde credentials (the member's machine holds none): the one place the pasted key is
/// serialized, over TLS to the server, never stored.
impl Serialize for crate::model::doctor::DoctorKeyInput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("DoctorKeyInput", 3)?;
        st.serialize_field("key", self.key.expose())?;
        st.serialize_field("require_scope", &self.require_scope)?;
        st.serialize_field("org_code", &self.org_code)?;
        st.end()
    }
}

/// Derives one typed method per operation (see the module docs).
macro_rules! remote_ops {
    (
        ops {
            $(
                $(#[doc = $doc:literal])*
                #[role($role:ident)]
                fn $name:ident ( $ctx:ident $(, $arg:ident : $ty:ty)* ) -> $ret:ty $body:block
            )*
        }
    ) => {
        impl RemoteClient {
            $(
                $(#[doc = $doc])*
                ///
                /// On the Keyward Server: `POST /api/v1/ops/` + the operation's name.
                #[allow(unused_mut, clippy::too_many_arguments)]
                pub async fn $name(&self $(, $arg: $ty)*) -> Result<$ret> {
                    let mut args = serde_json::Map::new();
                    $(
                        args.insert(
                            stringify!($arg).to_string(),
                            serde_json::to_value(&$arg).map_err(|e| {
                                Error::internal(format!("cannot encode {}: {e}", stringify!($arg)))
                            })?,
                        );
                    )*
                    let v = self.call(stringify!($name), Value::Object(args)).await?;
                    serde_json::from_value(v).map_err(|e| bad_answer(stringify!($name), &e))
                }
            )*
        }
    };
}

crate::operations!(remote_ops {});

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<ServerEvent> {
        let mut r = SseParser::default();
        text.split('\n')
            .filter_map(|l| r.line(l.strip_suffix('\r').unwrap_or(l)))
            .collect()
    }

    #[test]
    fn server_sent_events_are_parsed_field_by_field() {
        let evs = parse(
            ": keep-alive\n\nevent: keys\nid: 42\ndata: {\"a\":1}\n\ndata: one\ndata: two\r\n\nevent: alerts\ndata:x\n\n",
        );
        assert_eq!(evs.len(), 3, "{evs:?}");
        assert_eq!(evs[0].event, "keys");
        assert_eq!(evs[0].id.as_deref(), Some("42"));
        assert_eq!(evs[0].data, "{\"a\":1}");
        assert_eq!(evs[1].event, "message");
        assert_eq!(evs[1].data, "one\ntwo");
        assert_eq!(evs[2].data, "x");
    }

    #[test]
    fn error_bodies_become_errors_and_forbidden_names_the_role() {
        let e = decode_error(
            403,
            br#"{"code":"forbidden","message":"keys_revoke needs the role operator; yours is viewer","hint":"Ask an admin","required_role":"operator"}"#,
        );
        assert_eq!(e.code, FORBIDDEN);
        assert!(e.message.starts_with("forbidden:"), "{}", e.message);
        assert!(e.message.contains("operator"), "{}", e.message);
        let e = decode_error(
            404,
            br#"{"code":"not_found","message":"no key","hint":"h"}"#,
        );
        assert_eq!(e.code, ErrorCode::NotFound);
        let e = decode_error(401, br#"{"code":"unauthorized","message":"m","hint":"h"}"#);
        assert_eq!(e.code, ErrorCode::Unauthenticated);
        assert_eq!(decode_error(502, b"<html>").code, ErrorCode::ServerError);
        assert_eq!(decode_error(400, b"").code, ErrorCode::UnexpectedResponse);
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let c =
            RemoteClient::new("http://127.0.0.1:9", Secret::new("kwp_supersecret"), None).unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("supersecret") && d.contains("redacted"), "{d}");
        assert_eq!(
            RemoteClient::new("http://keyward.example.com", Secret::new("kwp_x"), None)
                .unwrap_err()
                .code,
            ErrorCode::InvalidInput
        );
    }
}
