//! `giaoban-relay export`: the office's documents fetched from a running relay by a script,
//! as a staff member gets them from the desk in a browser.
//!
//! The client signs in to the desk over HTTP with a staff account (the sign-in form, its
//! pre-session cookie and form token, as a browser without JavaScript sends them), keeps the
//! session cookie itself, finds a dispatch by its number (`/desk/find/dispatch`) or a unit's
//! report under it (`/desk/find/report`), downloads the file the desk would offer and signs
//! out. So the desk's rules apply unchanged (what the member's unit may read, the sign-in
//! limits and locks), and no second process opens the relay's SQLite files.
//!
//! A file is written whole or not at all: into a temporary file beside the destination,
//! synced to disk, then renamed into place (refusing to replace an existing file unless asked).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use giaoban_protocol::DocId;

use crate::Config;

/// The environment variable the account's password is read from (never an argument, which
/// other users of the machine can read in the process list).
pub const PASSWORD_VAR: &str = "GIAOBAN_DESK_PASSWORD";

/// Exit status of a failure, by kind, for scripts.
pub mod exit {
    /// The relay answered with an error not listed below (HTTP status in the message).
    pub const RELAY: i32 = 1;
    /// The command was given wrongly (a password missing, a bad relay address).
    pub const USAGE: i32 = 2;
    /// Nothing answered at the relay's address.
    pub const UNREACHABLE: i32 = 3;
    /// The relay refused the sign-in: wrong account or password, account locked or disabled.
    pub const SIGN_IN: i32 = 4;
    /// No such dispatch, task or report within the account's reach, or several that fit.
    pub const NOT_FOUND: i32 = 5;
    /// The relay refused the account this (HTTP 403).
    pub const NOT_PERMITTED: i32 = 6;
    /// The relay cannot lay the document out as a file (HTTP 422).
    pub const UNPRINTABLE: i32 = 7;
    /// The file could not be written, or exists already (without `--force`).
    pub const FILE: i32 = 8;
}

/// What to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// A dispatch as printed, by its number ("305/MTTQ-BTT") or id.
    Dispatch {
        /// Its number as printed, or its id.
        number: String,
    },
    /// A task's figures summed over the units it addressed.
    Consolidation {
        /// The dispatch's number or id.
        number: String,
        /// The task's number in the dispatch.
        task: u64,
        /// A sheet or the office's report.
        format: Format,
        /// Count every report submitted, not only those the office accepted.
        all_submitted: bool,
    },
    /// A unit's report: by its id, or by the dispatch it answers and the unit's name.
    Report {
        /// The report's id, or (with `unit`) the dispatch's number.
        report: String,
        /// The unit that sent it ("P. Xuân Trung").
        unit: Option<String>,
        /// The task it answers, when the unit answered several.
        task: Option<u64>,
    },
}

/// The file a consolidation is exported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The sheet of figures (`figures.xlsx`).
    #[default]
    Xlsx,
    /// The office's consolidated report (`report.docx`).
    Docx,
}

/// An export to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The relay's address ("http://127.0.0.1:8080").
    pub relay: String,
    /// Where the address came from, said when nothing answers there.
    pub relay_from: String,
    /// The staff account's login.
    pub account: String,
    /// Its password.
    pub password: String,
    /// What to export.
    pub what: What,
    /// Where to write it; the download's own name in the current folder if not given.
    pub out: Option<PathBuf>,
    /// Replace an existing file.
    pub force: bool,
}

/// A file written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Where.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Why an export failed, in the operator's words, with what to do.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The command was given wrongly.
    #[error("{0}")]
    Usage(String),
    /// Nothing answered at the address.
    #[error("{0}")]
    Unreachable(String),
    /// The sign-in was refused.
    #[error("{0}")]
    SignIn(String),
    /// Nothing, or more than one thing, fits.
    #[error("{0}")]
    NotFound(String),
    /// The relay refused (403).
    #[error("{0}")]
    NotPermitted(String),
    /// The relay cannot lay the document out (422).
    #[error("{0}")]
    Unprintable(String),
    /// The file could not be written.
    #[error("{0}")]
    File(String),
    /// Any other answer of the relay.
    #[error("{0}")]
    Relay(String),
}

impl ExportError {
    /// The process's exit status for this failure ([`exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            ExportError::Usage(_) => exit::USAGE,
            ExportError::Unreachable(_) => exit::UNREACHABLE,
            ExportError::SignIn(_) => exit::SIGN_IN,
            ExportError::NotFound(_) => exit::NOT_FOUND,
            ExportError::NotPermitted(_) => exit::NOT_PERMITTED,
            ExportError::Unprintable(_) => exit::UNPRINTABLE,
            ExportError::File(_) => exit::FILE,
            ExportError::Relay(_) => exit::RELAY,
        }
    }
}

type Result<T> = std::result::Result<T, ExportError>;

/// The account's password from [`PASSWORD_VAR`]; a clear refusal when it is not set.
pub fn password_from_env() -> Result<String> {
    match std::env::var(PASSWORD_VAR) {
        Ok(p) if !p.is_empty() => Ok(p),
        Ok(_) | Err(std::env::VarError::NotPresent) => {
            let hint = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                format!(" (typed without echo in bash: read -rs {PASSWORD_VAR} && export {PASSWORD_VAR})")
            } else {
                String::new()
            };
            Err(ExportError::Usage(format!(
                "set {PASSWORD_VAR} to the staff account's password{hint}; it is never taken on the command line"
            )))
        }
        Err(std::env::VarError::NotUnicode(_)) => Err(ExportError::Usage(format!(
            "{PASSWORD_VAR} is not valid UTF-8; set it to the password as typed"
        ))),
    }
}

/// The relay's address from its configuration, and where it came from: its own `listen`
/// address (a wildcard as loopback, since the configuration is on this machine), so the
/// request goes to the relay directly rather than round through its front.
pub fn relay_url_from(config: &Config) -> (String, String) {
    let listen = config.listen.trim();
    let url = match listen.parse::<std::net::SocketAddr>() {
        Ok(std::net::SocketAddr::V4(a)) if a.ip().is_unspecified() => {
            format!("http://127.0.0.1:{}", a.port())
        }
        Ok(std::net::SocketAddr::V6(a)) if a.ip().is_unspecified() => format!("http://[::1]:{}", a.port()),
        Ok(a) => format!("http://{a}"),
        Err(_) => format!("http://{listen}"),
    };
    let mut from = format!("the configuration's listen address ({listen})");
    if let Some(public) = &config.public_url {
        from.push_str(&format!("; the relay's public address is {public}"));
    }
    (url, from)
}

/// Checks a relay address: `http://` or `https://` and a host, nothing after it.
fn relay_base(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ']) => Ok(url.to_string()),
        _ => Err(ExportError::Usage(format!(
            "--relay must be the relay's address such as http://127.0.0.1:8080 or https://giaoban.dongnai.example, not '{url}'"
        ))),
    }
}

/// Runs an export: signs in, finds, downloads, writes, signs out.
pub fn run(opts: &Options) -> Result<Written> {
    let base = relay_base(&opts.relay)?;
    if let Some(out) = &opts.out {
        // Said before anything is asked of the relay.
        check_destination(out, opts.force)?;
    }
    let mut desk = Desk::new(&base, &opts.relay_from);
    desk.sign_in(&opts.account, &opts.password)?;
    let result = fetch(&mut desk, opts);
    desk.sign_out();
    result
}

fn fetch(desk: &mut Desk, opts: &Options) -> Result<Written> {
    let (path, not_found) = match &opts.what {
        What::Dispatch { number } => {
            let (id, label) = desk.dispatch(number)?;
            (
                format!("/desk/dispatch/{id}/document.docx"),
                format!("dispatch {label} is not on the relay, or not within your unit's reach"),
            )
        }
        What::Consolidation { number, task, format, all_submitted } => {
            let (id, label) = desk.dispatch(number)?;
            let file = match format {
                Format::Xlsx => "figures.xlsx",
                Format::Docx => "report.docx",
            };
            let counting = if *all_submitted { "?counting=all" } else { "" };
            (
                format!("/desk/dispatch/{id}/task/{task}/{file}{counting}"),
                format!(
                    "dispatch {label} has no task {task} that your unit issued; the tasks are numbered on its page, {}/desk/dispatch/{id}",
                    desk.base
                ),
            )
        }
        What::Report { report, unit: Some(unit), task } => {
            let id = desk.report_of(report, unit, *task)?;
            (
                format!("/desk/report/{id}/document.docx"),
                format!("report {id} is not within your unit's reach"),
            )
        }
        What::Report { report, unit: None, task: _ } => {
            let id: DocId = report.trim().parse().map_err(|_| {
                ExportError::Usage(format!(
                    "'{report}' is not a report's id; give its id (from its page's address, /desk/report/…) or the dispatch's number with --unit \"P. Xuân Trung\""
                ))
            })?;
            (
                format!("/desk/report/{id}/document.docx"),
                format!("report {id} is not on the relay, or not within your unit's reach"),
            )
        }
    };
    let mut answer = desk.get(&path)?;
    match answer.status {
        200 => {}
        404 => return Err(ExportError::NotFound(not_found)),
        _ => return Err(desk.failure(&path, answer)),
    }
    let name = answer
        .header("content-disposition")
        .and_then(|d| download_name(&d))
        .ok_or_else(|| ExportError::Relay(format!("the relay answered {path} without a file to save")))?;
    let dest = match &opts.out {
        Some(out) => out.clone(),
        None => PathBuf::from(safe_name(&name)?),
    };
    check_destination(&dest, opts.force)?;
    let expected = answer.header("content-length").and_then(|l| l.parse::<u64>().ok());
    let mut reader = answer.body.as_reader();
    let bytes = write_atomically(&dest, &mut reader, opts.force)?;
    if let Some(n) = expected
        && n != bytes
    {
        // The reader fails on a short body; a longer one would be a broken relay.
        return Err(ExportError::Relay(format!("the relay sent {bytes} bytes of {n}")));
    }
    Ok(Written { path: dest, bytes })
}

/// An answer of the desk, its body not yet read.
struct Answer {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: ureq::Body,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    fn location(&self) -> Option<String> {
        self.header("location")
    }

    /// The page, at most 4 MiB of it.
    fn page(&mut self) -> String {
        self.body.with_config().limit(4 << 20).lossy_utf8(true).read_to_string().unwrap_or_default()
    }
}

/// A signed-in (or signing-in) browser of the desk: its cookies and the relay's address.
struct Desk {
    base: String,
    from: String,
    agent: ureq::Agent,
    cookies: BTreeMap<String, String>,
}

impl Desk {
    fn new(base: &str, from: &str) -> Desk {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(15)))
            // A desk page or download is answered within the relay's own request timeout.
            .timeout_global(Some(Duration::from_secs(300)))
            .user_agent(format!("giaoban-relay-export/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Desk { base: base.to_string(), from: from.to_string(), agent, cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// Keeps the cookies an answer sets (a cookie set empty or to expire now is removed).
    fn keep_cookies(&mut self, headers: &ureq::http::HeaderMap) {
        for v in headers.get_all("set-cookie") {
            let Ok(text) = v.to_str() else { continue };
            let Some((name, rest)) = text.split_once('=') else { continue };
            let value = rest.split(';').next().unwrap_or_default().trim();
            let expired = rest.split(';').any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if value.is_empty() || expired {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().to_string(), value.to_string());
            }
        }
    }

    fn unreachable(&self, e: &ureq::Error) -> ExportError {
        let how = match e {
            ureq::Error::HostNotFound => "its host name is not known".to_string(),
            ureq::Error::Timeout(_) => "it did not answer in time".to_string(),
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                "nothing listens there".to_string()
            }
            ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => {
                format!("its TLS certificate could not be checked ({e})")
            }
            other => other.to_string(),
        };
        let check = if self.from == "--relay" {
            "check the address given with --relay".to_string()
        } else {
            format!("the address came from {}; give another with --relay", self.from)
        };
        ExportError::Unreachable(format!(
            "cannot reach the relay at {}: {how}. Is it running (giaoban-relay serve)? {check}",
            self.base
        ))
    }

    fn answer(
        &mut self,
        resp: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Answer> {
        let resp = resp.map_err(|e| self.unreachable(&e))?;
        let (parts, body) = resp.into_parts();
        self.keep_cookies(&parts.headers);
        Ok(Answer { status: parts.status.as_u16(), headers: parts.headers, body })
    }

    fn get(&mut self, path: &str) -> Result<Answer> {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if !self.cookies.is_empty() {
            req = req.header("Cookie", self.cookie_header());
        }
        let resp = req.call();
        self.answer(resp)
    }

    fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Result<Answer> {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded");
        if !self.cookies.is_empty() {
            req = req.header("Cookie", self.cookie_header());
        }
        let resp = req.send(body.as_bytes());
        self.answer(resp)
    }

    /// Signs in as `login`: the sign-in page for its form token, then the form.
    fn sign_in(&mut self, login: &str, password: &str) -> Result<()> {
        let mut page = self.get("/desk/sign-in")?;
        let status = page.status;
        let body = page.page();
        let token = (status == 200).then(|| form_token(&body)).flatten().ok_or_else(|| {
            ExportError::Relay(format!(
                "{} does not answer as a Giao Ban relay's desk (HTTP {status} for /desk/sign-in); check --relay",
                self.base
            ))
        })?;
        let mut answer =
            self.post("/desk/sign-in", &[("login", login), ("password", password), ("csrf", &token)])?;
        if answer.status == 303 && self.cookies.contains_key(crate::desk::auth::SESSION_COOKIE) {
            return Ok(());
        }
        let status = answer.status;
        let said = page_message(&answer.page());
        let lock = format!(
            "after {} wrong passwords in a row the account is locked for {} minutes",
            crate::store::FAILURES_BEFORE_LOCK,
            crate::store::LOCK_MS / 60_000
        );
        let says = relay_says(&said);
        Err(match status {
            401 => ExportError::SignIn(format!(
                "the relay refused the sign-in of '{login}': wrong account or password. Check {PASSWORD_VAR}; {lock}.{says}"
            )),
            429 if said.contains("khóa") => ExportError::SignIn(format!(
                "the account '{login}' is locked after wrong passwords. Wait until the time the relay gives, or ask the operator for a new password: giaoban-relay admin staff reset --login {login}.{says}"
            )),
            429 => ExportError::SignIn(format!(
                "the relay refuses sign-ins from this machine for a while, after too many.{says}"
            )),
            403 => ExportError::SignIn(format!(
                "the relay refused the sign-in of '{login}'. If the account is disabled, the operator enables it again with giaoban-relay admin staff reset --login {login}.{says}"
            )),
            400 => ExportError::SignIn(format!("the relay refused the sign-in of '{login}'.{says}")),
            _ => ExportError::Relay(format!("the relay answered the sign-in with HTTP {status}.{says}")),
        })
    }

    /// Ends the session, so a script run every hour leaves none open. Best effort: a session
    /// left open ends by itself after 12 hours unused, and its cookie was only in this process.
    fn sign_out(&mut self) {
        if !self.cookies.contains_key(crate::desk::auth::SESSION_COOKIE) {
            return;
        }
        // The session's form token is on every signed-in page; the first page is the one a
        // sign-in leads to.
        let Ok(mut home) = self.get("/desk") else { return };
        let token = (home.status == 200).then(|| form_token(&home.page())).flatten();
        if let Some(token) = token
            && let Err(e) = self.post("/desk/sign-out", &[("csrf", &token)])
        {
            tracing::debug!(error = %e, "the export's session could not be ended; it ends by itself");
        }
    }

    /// What went wrong with an answer to `path` that was not what was asked, in words.
    fn failure(&self, path: &str, mut answer: Answer) -> ExportError {
        let status = answer.status;
        if status == 303 && answer.location().is_some_and(|l| l.starts_with("/desk/sign-in")) {
            return ExportError::SignIn(
                "the relay ended the session before the export finished (was the account disabled or reset?)"
                    .into(),
            );
        }
        let said = page_message(&answer.page());
        let says = relay_says(&said);
        match status {
            403 => ExportError::NotPermitted(format!("the relay does not let this account do that.{says}")),
            422 => {
                ExportError::Unprintable(format!("the relay cannot lay this document out as a file.{says}"))
            }
            503 => ExportError::Relay(format!(
                "the relay could not answer now (HTTP 503); try again in a few minutes.{says}"
            )),
            _ => {
                let reason = ureq::http::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                ExportError::Relay(format!("the relay answered HTTP {status} {reason} to GET {path}.{says}"))
            }
        }
    }

    /// A lookup's answer: the page it leads to, or why not (`not_found` when nothing fits;
    /// when more than one does, `several` says so of their addresses and `again` how to ask
    /// for each).
    fn look_up(
        &mut self,
        path: &str,
        not_found: &str,
        several: &dyn Fn(&[Choice]) -> String,
        again: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String> {
        let mut answer = self.get(path)?;
        match answer.status {
            303 => match answer.location() {
                Some(l) if !l.starts_with("/desk/sign-in") => Ok(l),
                _ => Err(self.failure(path, answer)),
            },
            404 => Err(ExportError::NotFound(format!(
                "{not_found}.{}",
                relay_says(&page_message(&answer.page()))
            ))),
            300 => {
                let page = answer.page();
                let found = choices(&page);
                let mut lines = vec![format!("{}.{}", several(&found), relay_says(&page_message(&page)))];
                for Choice { href, label, note } in found {
                    let note = if note.is_empty() { String::new() } else { format!(" ({note})") };
                    match again(&href) {
                        Some(command) => lines.push(format!("  {label}{note}: {command}")),
                        None => lines.push(format!("  {label}{note}")),
                    }
                }
                Err(ExportError::NotFound(lines.join("\n")))
            }
            _ => Err(self.failure(path, answer)),
        }
    }

    /// The id of the dispatch `number` names (or `number` itself, an id), and how to call it.
    fn dispatch(&mut self, number: &str) -> Result<(DocId, String)> {
        if let Ok(id) = number.trim().parse::<DocId>() {
            return Ok((id, id.to_string()));
        }
        let path = format!("/desk/find/dispatch?{}", query(&[("number", number)]));
        let label = number.trim().to_string();
        let again = |href: &str| {
            id_after(href, "/desk/dispatch/")
                .map(|id| format!("run again with its id {id} in place of the number"))
        };
        let to = self.look_up(
            &path,
            &format!("no dispatch numbered {label} among those your unit issued"),
            &|_| format!("several dispatches your unit issued are numbered {label}"),
            &again,
        )?;
        let id = id_after(&to, "/desk/dispatch/").ok_or_else(|| {
            ExportError::Relay(format!("the relay's lookup of {label} led to {to}, not a dispatch"))
        })?;
        Ok((id, label))
    }

    /// The id of the report `unit` sent under dispatch `number` (for `task`).
    fn report_of(&mut self, number: &str, unit: &str, task: Option<u64>) -> Result<DocId> {
        let task = task.map(|t| t.to_string());
        let mut fields = vec![("number", number), ("unit", unit)];
        if let Some(t) = &task {
            fields.push(("task", t));
        }
        let path = format!("/desk/find/report?{}", query(&fields));
        let again = |href: &str| {
            if let Some(id) = id_after(href, "/desk/report/") {
                Some(format!("giaoban-relay export report {id}"))
            } else {
                href.contains("/unit/").then(|| "give this unit's full name with --unit".to_string())
            }
        };
        let number = number.trim();
        let to = self.look_up(
            &path,
            &format!("no report of {unit} under dispatch {number} was found"),
            &|found| {
                if found.iter().any(|c| c.href.contains("/unit/")) {
                    format!("more than one unit that dispatch {number} addressed is called “{unit}”")
                } else {
                    format!(
                        "{unit} sent more than one report under dispatch {number}; choose one by its task"
                    )
                }
            },
            &again,
        )?;
        id_after(&to, "/desk/report/").ok_or_else(|| {
            ExportError::Relay(format!("the relay's lookup of the report led to {to}, not a report"))
        })
    }
}

/// " The relay says: “…”" after an English sentence, or nothing when the page said nothing.
fn relay_says(said: &str) -> String {
    if said.is_empty() { String::new() } else { format!(" The relay says: “{said}”") }
}

/// `fields` as a query string.
fn query(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
}

/// The id in an address `prefix{id}[/…]`.
fn id_after(href: &str, prefix: &str) -> Option<DocId> {
    let rest = href.strip_prefix(prefix)?;
    rest.split(['/', '?', '#']).next()?.parse().ok()
}

/// The value of a page's first `<input … name="csrf" value="…">`.
fn form_token(page: &str) -> Option<String> {
    const MARK: &str = "name=\"csrf\" value=\"";
    let at = page.find(MARK)? + MARK.len();
    let token = page[at..].split('"').next()?;
    (!token.is_empty()).then(|| unescape(token))
}

/// The text between `<tag…>` and `</tag>` at or after `from`, tags inside it dropped.
fn element_text(page: &str, open: &str, close: &str, from: usize) -> Option<(String, usize)> {
    let start = page.get(from..)?.find(open)? + from;
    let inner = page[start..].find('>')? + start + 1;
    let end = page[inner..].find(close)? + inner;
    let mut text = String::new();
    let mut in_tag = false;
    for c in page[inner..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = unescape(&text).split_whitespace().collect::<Vec<_>>().join(" ");
    Some((text, end + close.len()))
}

/// What a desk page says went wrong: the sign-in form's error, or a message page's heading
/// and sentence.
fn page_message(page: &str) -> String {
    if let Some((text, _)) = element_text(page, "<p id=\"sign-in-error\"", "</p>", 0) {
        return text;
    }
    let Some((heading, after)) = element_text(page, "<h1", "</h1>", 0) else { return String::new() };
    match element_text(page, "<p", "</p>", after) {
        Some((text, _)) if !text.is_empty() => format!("{heading}: {text}"),
        _ => heading,
    }
}

/// One of the pages a lookup found when several fit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Choice {
    /// Its address ("/desk/dispatch/…").
    href: String,
    /// What it is ("305/MTTQ-BTT V/v …").
    label: String,
    /// What tells it apart ("ban hành ngày 24/01/2022"), or nothing.
    note: String,
}

/// The choices of a page that lists several.
fn choices(page: &str) -> Vec<Choice> {
    let Some(list) = page.find("<ul class=\"choices\">") else { return Vec::new() };
    let end = page[list..].find("</ul>").map_or(page.len(), |e| e + list);
    let mut out = Vec::new();
    let mut at = list;
    while let Some(li) = page[at..end].find("<li>").map(|i| i + at) {
        let Some(close) = page[li..end].find("</li>").map(|i| i + li) else { break };
        let item = &page[li..close];
        let href = item
            .split_once("href=\"")
            .and_then(|(_, r)| r.split_once('"'))
            .map(|(h, _)| unescape(h))
            .unwrap_or_default();
        let label = element_text(item, "<a", "</a>", 0).map(|(t, _)| t).unwrap_or_default();
        let note = element_text(item, "<span", "</span>", 0).map(|(t, _)| t).unwrap_or_default();
        out.push(Choice { href, label, note });
        at = close;
    }
    out
}

/// Undoes a page's HTML escaping (`&#60;`, `&lt;`, `&amp;` …).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let entity = rest.find(';').filter(|e| *e <= 10).map(|e| &rest[1..e]);
        let decoded = entity.and_then(|e| match e {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                let n = match e.strip_prefix("#x").or_else(|| e.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => e.strip_prefix('#').and_then(|d| d.parse().ok()),
                };
                n.and_then(char::from_u32)
            }
        });
        match (decoded, entity) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = &rest[e.len() + 2..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The ASCII `filename` of a `Content-Disposition` value (the desk sends it beside the UTF-8
/// `filename*`; the ASCII one is the one every file system and shell takes as it is).
fn download_name(disposition: &str) -> Option<String> {
    let at = disposition.find("filename=\"")? + "filename=\"".len();
    let name = disposition[at..].split('"').next()?;
    (!name.is_empty()).then(|| name.to_string())
}

/// A name the relay sent, refused unless it is a plain file name in this folder.
fn safe_name(name: &str) -> Result<String> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', ':', '\0'])
        && !name.chars().any(char::is_control)
        && name != ".."
        && Path::new(name).file_name().is_some_and(|f| f == name);
    if plain {
        Ok(name.to_string())
    } else {
        Err(ExportError::Relay(format!(
            "the relay named the file '{}', which is not a plain file name; give one with --out",
            name.escape_default()
        )))
    }
}

/// Refuses a destination that exists (unless `force`) or is a folder.
fn check_destination(dest: &Path, force: bool) -> Result<()> {
    match std::fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => {
            Err(ExportError::File(format!("{} is a folder; give --out the file to write", dest.display())))
        }
        Ok(_) if !force => Err(ExportError::File(format!(
            "{} exists already; nothing was written (replace it with --force)",
            dest.display()
        ))),
        _ => Ok(()),
    }
}

/// Writes what `from` gives to `dest` whole or not at all: into a temporary file in the same
/// folder, synced to disk, then moved into place (replacing an existing file only if `force`;
/// without it, a file that appeared meanwhile is kept), and the folder synced. On any failure
/// the temporary file is removed and `dest` is as it was. Returns the bytes written.
pub fn write_atomically(dest: &Path, from: &mut dyn Read, force: bool) -> Result<u64> {
    let folder = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_failed =
        |what: &str, e: std::io::Error| ExportError::File(format!("cannot {what} {}: {e}", dest.display()));
    let stem = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefix = format!(".{stem}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".part");
    // A document as any program saves one (the umask applies), not private as a temporary
    // file is by default.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut temp = builder.tempfile_in(&folder).map_err(|e| file_failed("write beside", e))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(ExportError::Relay(format!(
                    "the download broke off after {total} bytes ({e}); nothing was written to {}",
                    dest.display()
                )));
            }
        };
        temp.as_file_mut().write_all(&buf[..n]).map_err(|e| file_failed("write", e))?;
        total += n as u64;
    }
    temp.as_file().sync_all().map_err(|e| file_failed("sync", e))?;
    let persisted = if force { temp.persist(dest) } else { temp.persist_noclobber(dest) };
    if let Err(e) = persisted {
        // The temporary file is removed when `e` drops.
        return Err(if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            ExportError::File(format!(
                "{} exists already; nothing was written (replace it with --force)",
                dest.display()
            ))
        } else {
            file_failed("write", e.error)
        });
    }
    // The rename is durable once the folder is.
    #[cfg(unix)]
    if let Ok(dir) = std::fs::File::open(&folder) {
        let _ = dir.sync_all();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_page_says_what_went_wrong_in_its_own_words() {
        let sign_in = r#"<h1>Đăng nhập</h1><form><p id="sign-in-error" class="error" role="alert">Tên đăng nhập hoặc mật khẩu không đúng.</p>"#;
        assert_eq!(page_message(sign_in), "Tên đăng nhập hoặc mật khẩu không đúng.");
        let message = "<main>\n<h1>Không tìm thấy văn bản</h1>\n<p>Đơn vị bạn chưa ban hành văn bản nào số &#8220;999/MTTQ-BTT&#8221; &#38; &#60;b&#62;.</p>";
        assert_eq!(
            page_message(message),
            "Không tìm thấy văn bản: Đơn vị bạn chưa ban hành văn bản nào số “999/MTTQ-BTT” & <b>."
        );
        assert_eq!(page_message("no page at all"), "");
        assert_eq!(unescape("a &unknown; &#39;b&#39; &"), "a &unknown; 'b' &");
    }

    #[test]
    fn the_choices_of_a_page_are_read_with_their_addresses() {
        let page = r#"<h1>Có nhiều kết quả</h1><ul class="choices">
  <li><a href="/desk/dispatch/0190a1b2-0000-7000-8000-000000000001">305/MTTQ-BTT V/v …</a> <span class="hint">ban hành ngày 24/01/2022</span></li>
  <li><a href="/desk/dispatch/0190a1b2-0000-7000-8000-000000000002">305/MTTQ-BTT V/v khác</a></li>
</ul>"#;
        let c = choices(page);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].label, "305/MTTQ-BTT V/v …");
        assert_eq!(c[0].note, "ban hành ngày 24/01/2022");
        assert_eq!(c[1].note, "");
        assert!(id_after(&c[1].href, "/desk/dispatch/").is_some());
        assert_eq!(id_after("/desk/report/not-an-id", "/desk/report/"), None);
    }

    #[test]
    fn only_a_plain_name_from_the_relay_is_taken() {
        let d = "attachment; filename=\"Bao-cao-tong-hop-305-MTTQ-BTT.docx\"; filename*=UTF-8''B%C3%A1o";
        assert_eq!(download_name(d).as_deref(), Some("Bao-cao-tong-hop-305-MTTQ-BTT.docx"));
        assert_eq!(
            safe_name("Bao-cao-tong-hop-305-MTTQ-BTT.docx").unwrap(),
            "Bao-cao-tong-hop-305-MTTQ-BTT.docx"
        );
        for bad in ["../x.docx", "a/b.docx", "a\\b.docx", ".bashrc", "..", "", "C:x.docx", "a\nb.docx"] {
            assert!(safe_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_relay_address_comes_from_the_configuration() {
        let mut c = Config { listen: "0.0.0.0:8080".into(), ..Config::default() };
        assert_eq!(relay_url_from(&c).0, "http://127.0.0.1:8080");
        c.listen = "[::]:9000".into();
        assert_eq!(relay_url_from(&c).0, "http://[::1]:9000");
        c.listen = "127.0.0.1:8080".into();
        c.public_url = Some("https://giaoban.dongnai.example".into());
        let (url, from) = relay_url_from(&c);
        assert_eq!(url, "http://127.0.0.1:8080");
        assert!(from.contains("https://giaoban.dongnai.example"), "{from}");
        assert_eq!(
            relay_base("https://giaoban.dongnai.example/").unwrap(),
            "https://giaoban.dongnai.example"
        );
        assert!(relay_base("giaoban.dongnai.example").is_err());
        assert!(relay_base("http://127.0.0.1:8080/desk").is_err());
    }

    /// Gives `good` bytes, then fails as a connection cut off would.
    struct CutOff {
        good: usize,
    }

    impl Read for CutOff {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.good == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection cut"));
            }
            let n = buf.len().min(self.good).min(1000);
            buf[..n].fill(b'x');
            self.good -= n;
            Ok(n)
        }
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_file_is_written_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("Cong-van-305-MTTQ-BTT.docx");
        let err = write_atomically(&dest, &mut CutOff { good: 150_000 }, false).unwrap_err();
        assert_eq!(err.exit_code(), exit::RELAY);
        assert!(err.to_string().contains("broke off after 150000 bytes"), "{err}");
        assert!(names_in(dir.path()).is_empty(), "no half file, no temporary file");

        let n = write_atomically(&dest, &mut &b"PK first"[..], false).unwrap();
        assert_eq!(n, 8);
        let err = write_atomically(&dest, &mut &b"PK second"[..], false).unwrap_err();
        assert_eq!(err.exit_code(), exit::FILE);
        assert_eq!(std::fs::read(&dest).unwrap(), b"PK first", "kept without --force");
        // A failed replacement leaves the old file as it was.
        write_atomically(&dest, &mut CutOff { good: 10 }, true).unwrap_err();
        assert_eq!(std::fs::read(&dest).unwrap(), b"PK first");
        write_atomically(&dest, &mut &b"PK second"[..], true).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"PK second");
        assert_eq!(names_in(dir.path()), ["Cong-van-305-MTTQ-BTT.docx"]);
    }
}
