//! A client of the desk's pages as a browser without JavaScript uses them: cookies kept,
//! redirects not followed (so a test sees them), forms posted with the token the page gave.

use std::collections::BTreeMap;
use std::io::Read;

/// An answer of the desk.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Location`, on a redirect.
    pub location: Option<String>,
    /// Every `Set-Cookie` value.
    pub set_cookies: Vec<String>,
    /// Other headers, lower-case names.
    pub headers: BTreeMap<String, String>,
    /// The page.
    pub body: String,
}

impl Answer {
    /// The value of the first `<input name="csrf" value="…">` of the page.
    pub fn form_token(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
        Some(self.body[at..].split('"').next()?.to_string())
    }
}

impl Answer {
    /// Every `<input type="hidden" name=… value=…>` of the page, in order, unescaped.
    pub fn hidden_fields(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(at) = rest.find("<input type=\"hidden\" name=\"") {
            rest = &rest[at + "<input type=\"hidden\" name=\"".len()..];
            let Some((name, after)) = rest.split_once('"') else { break };
            let Some(v) = after.strip_prefix(" value=\"") else { continue };
            let Some((value, _)) = v.split_once('"') else { break };
            out.push((unescape(name), unescape(value)));
        }
        out
    }

    /// The text of the element with `id="…"`'s first text run (for errors beside fields).
    pub fn text_of_id(&self, id: &str) -> Option<String> {
        let at = self.body.find(&format!("id=\"{id}\""))?;
        let from = self.body[at..].find('>')? + at + 1;
        let to = self.body[from..].find('<')? + from;
        Some(unescape(&self.body[from..to]))
    }
}

/// Undoes the page's HTML escaping of text.
pub fn unescape(s: &str) -> String {
    s.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// A browser session on one relay.
pub struct Browser {
    base: String,
    agent: ureq::Agent,
    /// Cookies as the browser keeps them.
    pub cookies: BTreeMap<String, String>,
}

impl Browser {
    /// A new browser with no cookies, on the relay at `base`.
    pub fn new(base: &str) -> Browser {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
        Browser { base: base.trim_end_matches('/').to_string(), agent, cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, resp: &mut ureq::http::Response<ureq::Body>) -> Answer {
        let mut set_cookies = Vec::new();
        for v in resp.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap_or_default().to_string();
            if let Some((name, rest)) = text.split_once('=') {
                let value = rest.split(';').next().unwrap_or_default().to_string();
                if value.is_empty() || text.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), value);
                }
            }
            set_cookies.push(text);
        }
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let location = resp.headers().get("location").map(|v| v.to_str().unwrap_or_default().to_string());
        let mut body = String::new();
        let _ = resp.body_mut().as_reader().read_to_string(&mut body);
        Answer { status: resp.status().as_u16(), location, set_cookies, headers, body }
    }

    /// GET `path`.
    pub fn get(&mut self, path: &str) -> Answer {
        let mut req = self.agent.get(&format!("{}{path}", self.base));
        if !self.cookies.is_empty() {
            req = req.header("Cookie", &self.cookie_header());
        }
        let mut resp = req.call().unwrap();
        self.keep(&mut resp)
    }

    /// POST a form to `path` with `fields` (form-encoded), as the desk's own page would.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.post_with(path, fields, &[])
    }

    /// POST a form with extra request headers (`Origin` of another site, say).
    pub fn post_with(&mut self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Answer {
        let body =
            fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        let mut req = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded");
        if !self.cookies.is_empty() {
            req = req.header("Cookie", &self.cookie_header());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req.send(body.as_bytes()).unwrap();
        self.keep(&mut resp)
    }

    /// GET `path`, its body as bytes (a downloaded file): status, headers (lower-case names),
    /// body.
    pub fn get_bytes(&mut self, path: &str) -> (u16, BTreeMap<String, String>, Vec<u8>) {
        let mut req = self.agent.get(&format!("{}{path}", self.base));
        if !self.cookies.is_empty() {
            req = req.header("Cookie", &self.cookie_header());
        }
        let mut resp = req.call().unwrap();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let mut body = Vec::new();
        resp.body_mut().as_reader().read_to_end(&mut body).unwrap();
        (resp.status().as_u16(), headers, body)
    }

    /// POST a multipart form (`multipart/form-data`) to `path`, its parts in order, as a
    /// browser sends a form with a file.
    pub fn post_multipart(&mut self, path: &str, parts: &[Part<'_>]) -> Answer {
        self.post_multipart_paced(path, parts, std::time::Duration::ZERO)
    }

    /// Sends a multipart form the relay is expected to refuse before reading all of it: the
    /// status of its answer, or `None` when it closed the connection before the answer could
    /// be read (as it may with the rest of a forged form unread).
    pub fn post_multipart_refused(&mut self, path: &str, parts: &[Part<'_>]) -> Option<u16> {
        let (req, body) = self.multipart_request(path, parts);
        req.send(&body[..]).ok().map(|r| r.status().as_u16())
    }

    /// A multipart POST of `parts` to `path` with this browser's cookies, and its body.
    fn multipart_request(
        &self,
        path: &str,
        parts: &[Part<'_>],
    ) -> (ureq::RequestBuilder<ureq::typestate::WithBody>, Vec<u8>) {
        let (boundary, body) = multipart_body(parts);
        let mut req = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Content-Type", &format!("multipart/form-data; boundary={boundary}"));
        if !self.cookies.is_empty() {
            req = req.header("Cookie", &self.cookie_header());
        }
        (req, body)
    }

    /// Like [`Browser::post_multipart`], the body sent 32 KiB at a time with `pause` between
    /// pieces (a slow link).
    pub fn post_multipart_paced(
        &mut self,
        path: &str,
        parts: &[Part<'_>],
        pause: std::time::Duration,
    ) -> Answer {
        let (req, body) = self.multipart_request(path, parts);
        let mut resp = if pause.is_zero() {
            req.send(&body[..]).unwrap()
        } else {
            req.send(ureq::SendBody::from_owned_reader(Paced { body, at: 0, pause })).unwrap()
        };
        self.keep(&mut resp)
    }

    /// Starts sending the multipart form as [`Browser::post_multipart`] does, announcing its
    /// whole length, and closes the connection after `sent` bytes of the body (a browser
    /// closed mid-upload).
    pub fn post_multipart_cut(&mut self, path: &str, parts: &[Part<'_>], sent: usize) {
        use std::io::Write;
        let (boundary, body) = multipart_body(parts);
        let host = self.base.trim_start_matches("http://").to_string();
        let mut tcp = std::net::TcpStream::connect(&host).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\nCookie: {}\r\n\r\n",
            body.len(),
            self.cookie_header()
        );
        tcp.write_all(head.as_bytes()).unwrap();
        tcp.write_all(&body[..sent.min(body.len())]).unwrap();
        tcp.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(tcp);
    }

    /// Signs in as `login` with `password` through the sign-in page; the answer to the form.
    pub fn sign_in(&mut self, login: &str, password: &str) -> Answer {
        let page = self.get("/desk/sign-in");
        let token = page.form_token().unwrap_or_default();
        self.post("/desk/sign-in", &[("login", login), ("password", password), ("csrf", &token)])
    }
}

/// A multipart form's boundary and body.
fn multipart_body(parts: &[Part<'_>]) -> (&'static str, Vec<u8>) {
    let boundary = "----giaoban-form-7d1f3a";
    let mut body: Vec<u8> = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
                );
            }
            Part::File { name, file_name, media_type, bytes } => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {media_type}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

/// One part of a multipart form.
pub enum Part<'a> {
    /// A text field.
    Text(&'a str, &'a str),
    /// A file field.
    File {
        /// The field's name.
        name: &'a str,
        /// The file's name as picked.
        file_name: &'a str,
        /// Its media type, as the browser says it.
        media_type: &'a str,
        /// Its bytes.
        bytes: &'a [u8],
    },
}

/// Percent-encoding of a form field.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A body handed out 32 KiB at a time, with a pause before each piece.
struct Paced {
    body: Vec<u8>,
    at: usize,
    pause: std::time::Duration,
}

impl Read for Paced {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at >= self.body.len() {
            return Ok(0);
        }
        std::thread::sleep(self.pause);
        let n = buf.len().min(32 * 1024).min(self.body.len() - self.at);
        buf[..n].copy_from_slice(&self.body[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
