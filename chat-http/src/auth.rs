//! Who is asking, and may they: credentials, Origin and CSRF checks, and
//! the client address used for rate limits.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chat_core::{ChatError, DeviceToken, Session, SessionToken};
use hyper::HeaderMap;
use hyper::header::{self, HeaderValue};

use crate::ChatHttp;
use crate::config::HttpConfig;
use crate::error::HttpError;

/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session cookie's name: `__Host-` prefixed over TLS, so that it is
/// bound to this host, path `/` and secure transport.
pub(crate) fn cookie_name(tls: bool) -> &'static str {
    if tls {
        "__Host-chat_session"
    } else {
        "chat_session"
    }
}

/// A `Set-Cookie` value opening a session.
pub(crate) fn session_cookie(
    token: &SessionToken,
    max_age: Duration,
    tls: bool,
) -> Result<HeaderValue, HttpError> {
    let secure = if tls { "; Secure" } else { "" };
    let value = format!(
        "{}={}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}",
        cookie_name(tls),
        token.expose(),
        max_age.as_secs()
    );
    HeaderValue::from_str(&value).map_err(|e| HttpError::Internal(Box::new(e)))
}

/// A `Set-Cookie` value that deletes the session cookie.
pub(crate) fn clear_cookie(tls: bool) -> HeaderValue {
    if tls {
        HeaderValue::from_static(
            "__Host-chat_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("chat_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0")
    }
}

/// How the request proved who it is.
pub(crate) struct Authenticated {
    /// The session.
    pub session: Session,
    /// Its token, as presented; `None` for a token the host application
    /// signed (its session is held by no store).
    pub token: Option<SessionToken>,
    /// `true` for the cookie (needs CSRF protection), `false` for a bearer token.
    pub via_cookie: bool,
    /// For a token the host application signed, its `sub`: a WebSocket
    /// opened with it takes a fresh token for the same `sub` only.
    pub subject: Option<String>,
    /// Vouched for by the host's authenticator from credentials a browser
    /// sends by itself: changes need a same-site `Origin`.
    pub ambient_host: bool,
    /// The host's back end acting as the user with an API key: what it
    /// does is no sign that the user is there.
    pub acting: bool,
}

/// The token the request presents: `Authorization: Bearer` first, then the
/// session cookie. Never the URL.
fn presented_token(headers: &HeaderMap, tls: bool) -> Option<(String, bool)> {
    if headers.contains_key(header::AUTHORIZATION) {
        return bearer(headers).map(|token| (token, false));
    }
    cookie(headers, cookie_name(tls)).map(|token| (token, true))
}

/// The `Authorization: Bearer` credential, if the request has one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The value of the cookie `name`, among every `Cookie` header.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The device cookie's name: `__Secure-` prefixed over TLS. It is sent to
/// the login endpoint only.
pub(crate) fn device_cookie_name(tls: bool) -> &'static str {
    if tls {
        "__Secure-chat_device"
    } else {
        "chat_device"
    }
}

/// A `Set-Cookie` value carrying a device token: `HttpOnly`, sent only to
/// `/api/login` (under `mount_path`), only from this site.
pub(crate) fn device_cookie(
    token: &DeviceToken,
    max_age: Duration,
    config: &HttpConfig,
) -> Result<HeaderValue, HttpError> {
    let tls = config.tls;
    let secure = if tls { "; Secure" } else { "" };
    let value = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path={}/api/login; Max-Age={}{secure}",
        device_cookie_name(tls),
        token.expose(),
        config.mount_path,
        max_age.as_secs()
    );
    HeaderValue::from_str(&value).map_err(|e| HttpError::Internal(Box::new(e)))
}

/// Authenticates the request.
///
/// # Errors
/// `Unauthenticated` without a valid session.
pub(crate) async fn authenticate(
    http: &ChatHttp,
    headers: &HeaderMap,
) -> Result<Authenticated, HttpError> {
    if let Some(authenticator) = &http.config().authenticator {
        let vouched = authenticator
            .authenticate(headers)
            .await
            .map_err(ChatError::unavailable)?;
        if let Some(host) = vouched {
            return Ok(Authenticated {
                session: http.authenticator_session(&host).await?,
                token: None,
                via_cookie: false,
                subject: None,
                ambient_host: host.ambient,
                acting: false,
            });
        }
    }
    let (raw, via_cookie) =
        presented_token(headers, http.config().tls).ok_or(ChatError::Unauthenticated)?;
    if !via_cookie && crate::tokens::looks_like_jwt(&raw) {
        let (session, claims) = http.host_token_session(&raw).await?;
        return Ok(Authenticated {
            session,
            token: None,
            via_cookie,
            subject: Some(claims.subject),
            ambient_host: false,
            acting: false,
        });
    }
    let session = http.chat().authenticate(&raw).await?;
    let token = SessionToken::parse(&raw)?;
    Ok(Authenticated {
        session,
        token: Some(token),
        via_cookie,
        subject: None,
        ambient_host: false,
        acting: false,
    })
}

/// Cookie-authenticated state changes must carry the session's CSRF
/// token; those the host's authenticator vouched for by a cookie must come
/// with an `Origin` that is this site's or an allowed one (browsers send
/// it with every change, and a forged cross-site request cannot send this
/// site's).
///
/// # Errors
/// [`HttpError::Csrf`].
pub(crate) fn check_csrf(
    auth: &Authenticated,
    headers: &HeaderMap,
    config: &HttpConfig,
) -> Result<(), HttpError> {
    if auth.ambient_host {
        if headers.contains_key(header::ORIGIN) {
            return check_origin(headers, config);
        }
        tracing::warn!(user = %auth.session.user().id(), "change without an Origin refused");
        return Err(HttpError::Csrf);
    }
    let Some(session_token) = auth.token.as_ref().filter(|_| auth.via_cookie) else {
        return Ok(());
    };
    let presented = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match presented {
        Some(token) if session_token.verify_csrf(token) => Ok(()),
        _ => {
            tracing::warn!(user = %auth.session.user().id(), "CSRF token missing or wrong");
            Err(HttpError::Csrf)
        }
    }
}

/// Refuses cross-site requests: `Sec-Fetch-Site: cross-site`, or an
/// `Origin` that is neither this server's nor an allowed one (`null`
/// included). Requests without `Origin` (non-browser clients) pass.
///
/// # Errors
/// [`HttpError::ForeignOrigin`].
pub(crate) fn check_origin(headers: &HeaderMap, config: &HttpConfig) -> Result<(), HttpError> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        tracing::warn!("cross-site request refused");
        return Err(HttpError::ForeignOrigin);
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("null");
    let scheme = if config.tls { "https" } else { "http" };
    let own = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| {
            origin
                .strip_prefix(scheme)
                .and_then(|o| o.strip_prefix("://"))
                == Some(host)
        });
    if own
        || config
            .allowed_origins
            .iter()
            .any(|allowed| allowed == origin)
    {
        Ok(())
    } else {
        tracing::warn!(origin, "request from a foreign origin refused");
        Err(HttpError::ForeignOrigin)
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy,
/// the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy.
pub(crate) fn client_ip(headers: &HeaderMap, peer: SocketAddr, config: &HttpConfig) -> IpAddr {
    let mut client = peer.ip();
    if !config.trusted_proxies.contains(&client) {
        return client;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if config.trusted_proxies.contains(&ip) => client = ip,
            Ok(ip) => return ip,
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn origin_must_be_own_or_allowed() {
        let config = HttpConfig {
            allowed_origins: vec!["https://app.example.com".into()],
            ..HttpConfig::default()
        };
        let ok = [
            headers(&[("host", "localhost:8080")]),
            headers(&[
                ("host", "localhost:8080"),
                ("origin", "http://localhost:8080"),
            ]),
            headers(&[("host", "x"), ("origin", "https://app.example.com")]),
        ];
        for h in ok {
            assert!(check_origin(&h, &config).is_ok(), "{h:?}");
        }
        let refused = [
            headers(&[("host", "localhost:8080"), ("origin", "null")]),
            headers(&[
                ("host", "localhost:8080"),
                ("origin", "http://evil.example"),
            ]),
            headers(&[
                ("host", "localhost:8080"),
                ("origin", "http://localhost:8080.evil.example"),
            ]),
            headers(&[
                ("host", "localhost:8080"),
                ("origin", "https://localhost:8080"),
            ]),
            headers(&[("host", "x"), ("origin", "https://app.example.com.evil")]),
            headers(&[("host", "localhost:8080"), ("sec-fetch-site", "cross-site")]),
        ];
        for h in refused {
            assert!(check_origin(&h, &config).is_err(), "{h:?}");
        }
    }

    /// Users the host vouched for by a cookie change things only from this
    /// site or an allowed origin; bearer-like credentials need no Origin.
    #[tokio::test]
    async fn ambient_host_users_change_only_from_this_site_or_an_allowed_origin() {
        let chat =
            chat_core::Chat::builder(std::sync::Arc::new(chat_core::MemoryStore::new())).build();
        let user = chat_core::User::new(
            chat_core::UserId::new(1),
            chat_core::Username::parse("ada").unwrap(),
        );
        let auth = |ambient_host| Authenticated {
            session: chat.session_for(user.clone(), chat.clock().now()),
            token: None,
            via_cookie: false,
            subject: None,
            ambient_host,
            acting: false,
        };
        let config = HttpConfig {
            allowed_origins: vec!["https://app.example.com".into()],
            ..HttpConfig::default()
        };
        let own = headers(&[("host", "chat.test"), ("origin", "http://chat.test")]);
        let allowed = headers(&[("host", "chat.test"), ("origin", "https://app.example.com")]);
        for fine in [&own, &allowed] {
            assert!(check_csrf(&auth(true), fine, &config).is_ok(), "{fine:?}");
        }
        let refused = [
            headers(&[("host", "chat.test")]),
            headers(&[("host", "chat.test"), ("origin", "http://evil.example")]),
            headers(&[("host", "chat.test"), ("origin", "null")]),
        ];
        for bad in &refused {
            assert!(check_csrf(&auth(true), bad, &config).is_err(), "{bad:?}");
            assert!(check_csrf(&auth(false), bad, &config).is_ok(), "{bad:?}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let config = HttpConfig {
            trusted_proxies: vec![proxy],
            ..HttpConfig::default()
        };
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 10.0.0.1")]);
        assert_eq!(
            client_ip(&h, SocketAddr::new(proxy, 1), &config).to_string(),
            "1.2.3.4"
        );
        let stranger: SocketAddr = "5.6.7.8:1".parse().unwrap();
        assert_eq!(client_ip(&h, stranger, &config).to_string(), "5.6.7.8");
    }

    #[test]
    fn bearer_wins_and_cookies_are_found_among_others() {
        let h = headers(&[("cookie", "a=b; chat_session=tok; c=d")]);
        assert_eq!(presented_token(&h, false), Some(("tok".into(), true)));
        let h = headers(&[
            ("cookie", "chat_session=tok"),
            ("authorization", "Bearer other"),
        ]);
        assert_eq!(presented_token(&h, false), Some(("other".into(), false)));
        let h = headers(&[("cookie", "chat_session=tok")]);
        assert_eq!(
            presented_token(&h, true),
            None,
            "TLS uses the __Host- cookie"
        );
    }
}
