//! Signing in to the desk: the session cookie, the form token every form carries, the check
//! that a form was sent from the desk's own pages, and the limit on sign-in attempts from one
//! address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};

/// The session cookie.
pub const SESSION_COOKIE: &str = "giaoban_desk";
/// The cookie a browser keeps once it has signed in to an account, so that a lock others set
/// on the account by guessing does not keep it out (`RelayStore::sign_in_from`).
pub const KNOWN_BROWSER_COOKIE: &str = "giaoban_desk_known";
/// How long a browser is known: 400 days, the most a browser keeps a cookie.
pub const KNOWN_BROWSER_SECS: i64 = 400 * 24 * 3600;
/// The cookie behind the sign-in form's token, before there is a session.
pub const PRE_SESSION_COOKIE: &str = "giaoban_desk_pre";

/// Sign-in attempts one address may make per [`ADDRESS_WINDOW`].
pub const ATTEMPTS_PER_ADDRESS: u32 = 20;
/// The window of [`ATTEMPTS_PER_ADDRESS`]: 10 minutes.
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(600);

/// The address a request came from (the TCP peer; unknown when served without a listener).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub Option<IpAddr>);

/// What `run` puts in each request: the connection's peer.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(parts.extensions.get::<Peer>().map(|p| p.0.ip())))
    }
}

/// The value of cookie `name`, if the request carries it once and it looks like a token.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            let Some((k, v)) = pair.trim().split_once('=') else { continue };
            if k == name {
                if found.is_some() {
                    // Two cookies of one name (one planted by a sibling site): trust neither.
                    return None;
                }
                found = Some(v.to_string());
            }
        }
    }
    found.filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, for the desk's pages only, Secure when
/// the relay is reached over TLS.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Path=/desk; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// A `Set-Cookie` value that removes cookie `name`.
pub fn clear_cookie(name: &str, secure: bool) -> HeaderValue {
    set_cookie(name, "", 0, secure)
}

/// A new random token for a cookie.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The form token for a sign-in form shown with pre-session cookie `pre`.
pub fn pre_session_form_token(pre: &str) -> String {
    hex::encode(&crate::store::sha256(&format!("giaoban desk sign-in form:{pre}"))[..16])
}

/// Whether a form was sent by a page of this relay: a browser says where a request comes
/// from (`Sec-Fetch-Site`, `Origin`); one that says "another site" is refused even with a
/// valid form token.
///
/// `public` is the relay's public address when it sits behind a front (`public_url`): an
/// `Origin` equal to it passes even when the front does not pass the browser's Host on.
pub fn same_origin(headers: &HeaderMap, public: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match (headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()), headers.get(header::HOST)) {
        (Some("null"), _) => false,
        (Some(origin), _) if public == Some(origin) => true,
        (Some(origin), Some(host)) => {
            let host = host.to_str().unwrap_or_default();
            origin.split_once("://").map(|(_, rest)| rest) == Some(host)
        }
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// The address sign-in attempts are counted against: the TCP peer, or, behind a front that
/// says so (`trust_forwarded_for`), the last address in `X-Forwarded-For` (the one the front
/// itself added).
pub fn client_address(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    if trust_forwarded_for {
        // The rightmost entry is the one the front added; anything left of it the client
        // wrote. An entry that is not an address is not trusted either.
        let rightmost = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|a| a.trim().parse::<IpAddr>().ok());
        if rightmost.is_some() {
            return rightmost;
        }
    }
    peer
}

/// Compares two tokens in time that does not depend on where they differ.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The address attempts from `addr` are counted against: an IPv4 address itself, an IPv6
/// address by its /64 (one network's, which its holder has more than enough of to try from a
/// new address each time), an IPv4 address written as IPv6 as the IPv4 address.
pub fn counted_as(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

/// Sign-in attempts per address in the current window.
#[derive(Default)]
pub struct AddressLimiter {
    seen: std::sync::Mutex<HashMap<Option<IpAddr>, (Instant, u32)>>,
}

impl AddressLimiter {
    /// Counts an attempt from `addr`; `Err(seconds to wait)` once it has made too many.
    pub fn attempt(&self, addr: Option<IpAddr>) -> Result<(), u64> {
        let addr = addr.map(counted_as);
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 10_000 {
            seen.retain(|_, (start, _)| now.duration_since(*start) < ADDRESS_WINDOW);
        }
        let entry = seen.entry(addr).or_insert((now, 0));
        if now.duration_since(entry.0) >= ADDRESS_WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= ATTEMPTS_PER_ADDRESS {
            let left = ADDRESS_WINDOW.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_cookie_is_read_only_when_it_is_alone_and_well_formed() {
        let t = "a".repeat(64);
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(&format!("x=1; giaoban_desk={t}")).unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some(t.clone()));
        h.append(header::COOKIE, HeaderValue::from_str(&format!("giaoban_desk={}", "b".repeat(64))).unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), None);
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("giaoban_desk=<script>"));
        assert_eq!(cookie(&h, SESSION_COOKIE), None);
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h, None));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_origin(&h, None));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&h, None));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://giaoban.example"));
        assert!(!same_origin(&h, None));
        assert!(same_origin(&h, Some("https://giaoban.example")), "behind a front that rewrites Host");
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h, Some("https://giaoban.example")));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h, None));
    }

    #[test]
    fn the_front_says_who_signs_in_only_when_trusted() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("1.2.3.4, 10.0.0.9"));
        let proxy = Some("127.0.0.1".parse().unwrap());
        assert_eq!(client_address(&h, proxy, false), proxy);
        assert_eq!(client_address(&h, proxy, true), Some("10.0.0.9".parse().unwrap()));
        assert_eq!(client_address(&HeaderMap::new(), proxy, true), proxy);
    }

    #[test]
    fn an_address_is_held_back_after_its_attempts() {
        let l = AddressLimiter::default();
        let a = Some("10.0.0.7".parse().unwrap());
        for _ in 0..ATTEMPTS_PER_ADDRESS {
            l.attempt(a).unwrap();
        }
        assert!(l.attempt(a).is_err());
        assert!(l.attempt(Some("10.0.0.8".parse().unwrap())).is_ok());
    }

    #[test]
    fn one_ipv6_network_is_one_address() {
        let l = AddressLimiter::default();
        for i in 0..ATTEMPTS_PER_ADDRESS {
            l.attempt(Some(format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap())).unwrap();
        }
        assert!(l.attempt(Some("2001:db8:1:2:ffff::9".parse().unwrap())).is_err(), "same /64");
        assert!(l.attempt(Some("2001:db8:1:3::1".parse().unwrap())).is_ok(), "another /64");
        assert_eq!(counted_as("::ffff:10.0.0.7".parse().unwrap()), "10.0.0.7".parse::<IpAddr>().unwrap());
    }
}
