//! Who may do what (SPEC §10): the checks every request passes before a handler sees it, and the
//! [`Access`] it then carries.
//!
//! In order: the `Host` (TCP only; DNS rebinding), the `Origin` (a foreign web page), the
//! body's `Content-Type` (a browser's "simple" request cannot send `application/json`), then
//! who is asking (a bearer token when tokens are configured, else the peer's uid: the daemon's
//! own or root), and last whether that role covers the route (the role column of the route
//! table, `openapi::routes`). The rules themselves are pure functions ([`host_allowed`],
//! [`origin_allowed`], [`body_type_allowed`], [`RouteRoles::needed`]) tested with tables; the
//! middleware ([`check`]) only gathers their inputs and writes the refusals.
//!
//! A handler reads the caller from the request's extensions: `Extension(access):
//! Extension<Access>` (the middleware always inserts one before any handler runs).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::openapi::{Role, root_routes, routes};
use super::peer::{Peer, Transport};
use super::tokens::Tokens;
use super::{AppState, BASE, error};

/// How the caller of a request was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// A bearer token of the tokens file (or the one admin token).
    Token,
    /// No token is configured, and the peer process runs as the daemon's user or root.
    Peer,
    /// Nothing that grants a role: only public routes answer.
    None,
}

impl Auth {
    pub fn as_str(self) -> &'static str {
        match self {
            Auth::Token => "token",
            Auth::Peer => "peer",
            Auth::None => "none",
        }
    }
}

/// The caller of a request, as the checks found it: put in every request's extensions.
#[derive(Debug, Clone)]
pub struct Access {
    /// `None`: only public routes.
    pub role: Option<Role>,
    /// The token's name (never its secret).
    pub token_name: Option<Arc<str>>,
    pub auth: Auth,
    /// The peer process's uid, where it was looked up.
    pub uid: Option<u32>,
}

impl Access {
    pub fn allows(&self, needed: Role) -> bool {
        needed == Role::Public || self.role.is_some_and(|role| role >= needed)
    }

    /// Whether the caller sees secrets: file text, environment values, ETags (admin only;
    /// `read` and `operate` get the redacted view).
    pub fn sees_secrets(&self) -> bool {
        self.role == Some(Role::Admin)
    }

    /// Who made a change, for the audit trail and the daemon's log: the token's name, or the
    /// peer's uid.
    pub fn author(&self) -> Option<Arc<str>> {
        match (&self.token_name, self.uid) {
            (Some(name), _) => Some(Arc::clone(name)),
            (None, Some(uid)) => Some(Arc::from(format!("uid {uid}"))),
            (None, None) => None,
        }
    }
}

/// What `serve` was told about the checks.
#[derive(Debug, Clone, Default)]
pub struct AccessConfig {
    /// `--allow-origin ORIGIN`, as given (compared without case, without a trailing slash).
    pub allow_origins: Vec<String>,
    /// `--allow-host NAME` (or `NAME:PORT`).
    pub allow_hosts: Vec<String>,
    /// The address the API listens on, when TCP.
    pub listen: Option<SocketAddr>,
    /// The bearer tokens; empty means peer credentials decide.
    pub tokens: Tokens,
}

/// The role each route needs, from the route table, ready to match paths against.
#[derive(Debug, Clone)]
pub struct RouteRoles {
    routes: Vec<(Method, Vec<Segment>, Role)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{id}`: any one segment.
    Any,
}

impl RouteRoles {
    /// Both route tables: the API's (under the base path) and the root one (the dashboard,
    /// the supervisord bridge), each route with its full path.
    pub fn from_table() -> RouteRoles {
        let api = routes()
            .into_iter()
            .map(|route| (format!("{BASE}{}", route.path), route));
        let root = root_routes()
            .into_iter()
            .map(|route| (route.path.to_string(), route));
        let routes = api
            .chain(root)
            .map(|(path, route)| {
                let segments = path
                    .split('/')
                    .filter(|segment| !segment.is_empty())
                    .map(|segment| {
                        if segment.starts_with('{') {
                            Segment::Any
                        } else {
                            Segment::Literal(segment.to_string())
                        }
                    })
                    .collect();
                (route.method, segments, route.role)
            })
            .collect();
        RouteRoles { routes }
    }

    /// The role a request needs. A path that is no route needs `read` (so an unknown caller
    /// gets 401, not a map of what exists).
    pub fn needed(&self, method: &Method, path: &str) -> Role {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let segments: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
        let literal_first = |(route_method, pattern, _): &&(Method, Vec<Segment>, Role)| {
            route_method == method
                && pattern.len() == segments.len()
                && pattern
                    .iter()
                    .zip(&segments)
                    .all(|(part, segment)| match part {
                        Segment::Literal(literal) => literal == segment,
                        Segment::Any => true,
                    })
        };
        // A literal route (`/programs/add`) wins over a pattern (`/programs/{id}`), as in the
        // router; the table lists them so, and the first match is taken.
        self.routes
            .iter()
            .find(literal_first)
            .map_or(Role::Read, |(_, _, role)| *role)
    }
}

// ---- the rules (pure) --------------------------------------------------------------------

/// Splits `host[:port]` (`[v6]:port` for IPv6) into the host, lower-cased and without
/// brackets, and the port.
fn split_host(authority: &str) -> (String, Option<&str>) {
    let authority = authority.trim();
    if let Some(rest) = authority.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':');
            return (host.to_ascii_lowercase(), port);
        }
        return (authority.to_ascii_lowercase(), None);
    }
    match authority.rsplit_once(':') {
        // One colon: host:port. More than one without brackets is a bare IPv6 address.
        Some((host, port)) if !host.contains(':') => (host.to_ascii_lowercase(), Some(port)),
        _ => (authority.to_ascii_lowercase(), None),
    }
}

/// Whether a `Host` header may reach the API (DNS rebinding): a loopback name or address, the
/// address the connection came in on or the listen address, or a name given with
/// `--allow-host` (`NAME` for any port, `NAME:PORT` for that one). A request without `Host`
/// (HTTP/1.0) passes: a browser always sends one.
pub fn host_allowed(
    host: Option<&str>,
    local: Option<SocketAddr>,
    listen: Option<SocketAddr>,
    allowed: &[String],
) -> bool {
    let Some(host) = host else {
        return true;
    };
    let (name, port) = split_host(host);
    if name == "localhost" {
        return true;
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        // An address is never a rebinding: the browser's page is on that very address.
        if ip.is_loopback() || ip.to_canonical().is_loopback() {
            return true;
        }
        let same = |address: Option<SocketAddr>| {
            address.is_some_and(|address| address.ip().to_canonical() == ip.to_canonical())
        };
        if same(local) || same(listen) {
            return true;
        }
    }
    allowed.iter().any(|entry| {
        let (allowed_name, allowed_port) = split_host(entry);
        allowed_name == name && (allowed_port.is_none() || allowed_port == port)
    })
}

/// `scheme://authority` with the scheme's default port left out, lower-cased.
fn normalize_origin(origin: &str) -> Option<(String, String)> {
    let origin = origin.trim().trim_end_matches('/');
    let (scheme, authority) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = authority.to_ascii_lowercase();
    let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
        ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host.to_string(),
        _ => authority,
    };
    Some((scheme, authority))
}

/// Whether an `Origin` header may drive the API: absent (not a browser, or a same-origin
/// GET), the daemon's own origin (the host and port it is reached at, the `Host` header, over
/// http or https: behind a TLS proxy the page is `https://NAME`), or one given with
/// `--allow-origin`. `null` (a sandboxed frame, a file) is foreign.
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    let Some((scheme, authority)) = normalize_origin(origin) else {
        return false;
    };
    let listed = allowed.iter().any(|entry| {
        normalize_origin(entry).is_some_and(|entry| entry == (scheme.clone(), authority.clone()))
    });
    if listed {
        return true;
    }
    let Some(host) = host else {
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    let host_for = |default: &str| {
        host.strip_suffix(default)
            .map_or_else(|| host.clone(), str::to_string)
    };
    match scheme.as_str() {
        "http" => authority == host_for(":80"),
        "https" => authority == host_for(":443"),
        _ => false,
    }
}

/// Whether a request's body may be read: no body, or a JSON one (`application/json` with any
/// parameters, or `application/merge-patch+json`). A browser's cross-origin "simple" request
/// can only send `text/plain`, form types or none, so it never gets here with a body.
pub fn body_type_allowed(has_body: bool, content_type: Option<&str>) -> bool {
    if !has_body {
        return true;
    }
    let Some(content_type) = content_type else {
        return false;
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || media == "application/merge-patch+json"
}

// ---- the middleware ----------------------------------------------------------------------

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Whether the request carries a body: a length above 0 or a chunked transfer.
fn has_body(headers: &HeaderMap) -> bool {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    header_text(headers, header::CONTENT_LENGTH).is_some_and(|length| {
        length
            .trim()
            .parse::<u64>()
            .map_or(true, |length| length > 0)
    })
}

/// The token a request offers: `Authorization: Bearer TOKEN`, or, on the supervisord bridge
/// (`/RPC2`, `/logtail`: supervisorctl's `-u USER -p TOKEN`), `Authorization: Basic` with the
/// token as the password and any user name. Basic is not read elsewhere: it is the kind of
/// credential a browser remembers and sends by itself.
pub fn offered_token(headers: &HeaderMap, bridge: bool) -> Option<String> {
    let value = header_text(headers, header::AUTHORIZATION)?;
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` is `Bearer`.
    let (scheme, credentials) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("Bearer") {
        return Some(credentials.trim().to_string());
    }
    if bridge && scheme.eq_ignore_ascii_case("Basic") {
        let decoded = crate::xmlrpc::base64_decode(credentials.trim())?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (_user, password) = decoded.split_once(':')?;
        return Some(password.to_string());
    }
    None
}

/// Runs the checks of SPEC §10 on every request, inserts its [`Access`], and logs each write
/// with who made it.
pub(super) async fn check(
    State(state): State<AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let config = &state.access;
    let peer = request.extensions().get::<Peer>().cloned();
    let headers = request.headers();
    let host = header_text(headers, header::HOST);
    let tcp_local = match peer.as_ref().map(|peer| &peer.transport) {
        Some(Transport::Tcp { local }) => Some(*local),
        _ => None,
    };
    let over_tcp = !matches!(
        peer.as_ref().map(|peer| &peer.transport),
        Some(Transport::Unix)
    );
    if over_tcp && !host_allowed(host, tcp_local, config.listen, &config.allow_hosts) {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden_host",
            &format!(
                "the Host {} is not this daemon's; a name it is reached by must be given with serve --allow-host NAME",
                json!(host.unwrap_or(""))
            ),
            json!({ "host": host }),
        );
    }
    let origin = header_text(headers, header::ORIGIN);
    if !origin_allowed(origin, host, &config.allow_origins) {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            &format!(
                "requests from the web origin {} are refused; allow it with serve --allow-origin ORIGIN",
                json!(origin.unwrap_or(""))
            ),
            json!({ "origin": origin }),
        );
    }
    let content_type = header_text(headers, header::CONTENT_TYPE);
    // The supervisord bridge takes XML (text/xml is no "simple" type either: a page cannot
    // send it cross-origin without a preflight), and refuses anything a page sends itself.
    // (Its handlers also refuse whatever a page sends itself: `rpc::refuse_pages`.)
    let bridge = super::rpc::is_bridge_path(request.uri().path());
    if !bridge && !body_type_allowed(has_body(headers), content_type) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a request body must be JSON: send Content-Type: application/json",
            json!({ "content_type": content_type }),
        );
    }

    let uid = peer.as_ref().and_then(|peer| peer.uid);
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let needed = state.roles.needed(&method, &path);
    let access = if config.tokens.is_empty() {
        match uid {
            Some(uid) if uid == 0 || uid == state.daemon_uid => Access {
                role: Some(Role::Admin),
                token_name: None,
                auth: Auth::Peer,
                uid: Some(uid),
            },
            _ => Access {
                role: None,
                token_name: None,
                auth: Auth::None,
                uid,
            },
        }
    } else {
        match offered_token(headers, bridge) {
            Some(offered) => match config.tokens.find(&offered) {
                Some((name, role)) => Access {
                    role: Some(role),
                    token_name: Some(name),
                    auth: Auth::Token,
                    uid,
                },
                // A public route answers whatever was sent; any other refuses a wrong token.
                None if needed == Role::Public => Access {
                    role: None,
                    token_name: None,
                    auth: Auth::None,
                    uid,
                },
                None => return unauthorized("the bearer token is wrong"),
            },
            None => Access {
                role: None,
                token_name: None,
                auth: Auth::None,
                uid,
            },
        }
    };

    if !access.allows(needed) {
        return match access.role {
            None if config.tokens.is_empty() => unauthorized(&peer_refusal(uid, state.daemon_uid)),
            None => {
                unauthorized("this daemon needs a bearer token: send Authorization: Bearer <token>")
            }
            Some(role) => error(
                StatusCode::FORBIDDEN,
                "forbidden",
                &format!(
                    "this needs the {} role; the token {} has the {} role",
                    needed.as_str(),
                    json!(access.token_name.as_deref().unwrap_or("")),
                    role.as_str()
                ),
                json!({ "needed": needed.as_str(), "role": role.as_str() }),
            ),
        };
    }
    let author = access.author();
    request.extensions_mut().insert(access);
    let response = next.run(request).await;
    if method != Method::GET && method != Method::HEAD {
        tracing::info!(
            %method,
            %path,
            status = response.status().as_u16(),
            by = author.as_deref().unwrap_or("-"),
            "API write"
        );
    }
    response
}

/// Why a peer without a token is refused, naming the ways in.
fn peer_refusal(uid: Option<u32>, daemon_uid: u32) -> String {
    let who = match uid {
        Some(uid) => format!("uid {uid} is neither the daemon's user (uid {daemon_uid}) nor root"),
        None => "the user of this connection cannot be told".to_string(),
    };
    format!(
        "{who}; without a token only they may use the API. Give this client a token: start the daemon with --tokens-file FILE (roles read, operate, admin) or --token-file FILE / HOODY_DAEMON_TOKEN, and send Authorization: Bearer <token>"
    )
}

pub fn unauthorized(message: &str) -> Response {
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        message,
        Value::Null,
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let local: SocketAddr = "127.0.0.1:7575".parse().unwrap();
        let wide: SocketAddr = "10.1.2.3:7575".parse().unwrap();
        let allowed = vec![
            "daemon.example".to_string(),
            "proxy.example:8443".to_string(),
        ];
        let cases: &[(Option<&str>, Option<SocketAddr>, bool)] = &[
            (None, Some(local), true),
            (Some("127.0.0.1:7575"), Some(local), true),
            (Some("127.9.9.9"), Some(local), true),
            (Some("localhost:7575"), Some(local), true),
            (Some("LOCALHOST"), Some(local), true),
            (Some("[::1]:7575"), Some(local), true),
            (Some("::1"), Some(local), true),
            (Some("[::ffff:127.0.0.1]:1"), Some(local), true),
            (Some("evil.example"), Some(local), false),
            (Some("evil.example:7575"), Some(local), false),
            (Some("localhost.evil.example"), Some(local), false),
            (Some("10.1.2.3:7575"), Some(wide), true),
            (Some("10.1.2.4:7575"), Some(wide), false),
            (Some("Daemon.Example"), Some(local), true),
            (Some("daemon.example:1234"), Some(local), true),
            (Some("proxy.example:8443"), Some(local), true),
            (Some("proxy.example"), Some(local), false),
            (Some("proxy.example:80"), Some(local), false),
            (Some(""), Some(local), false),
        ];
        for (host, local, expected) in cases {
            assert_eq!(
                host_allowed(*host, *local, None, &allowed),
                *expected,
                "{host:?} on {local:?}"
            );
        }
        // The listen address counts too.
        assert!(host_allowed(
            Some("10.9.9.9:80"),
            None,
            Some("10.9.9.9:7575".parse().unwrap()),
            &[]
        ));
    }

    #[test]
    fn origins() {
        let allowed = vec!["https://dash.example/".to_string()];
        let cases: &[(Option<&str>, Option<&str>, bool)] = &[
            (None, Some("127.0.0.1:7575"), true),
            (Some("http://127.0.0.1:7575"), Some("127.0.0.1:7575"), true),
            (Some("HTTP://LOCALHOST:7575"), Some("localhost:7575"), true),
            (Some("http://localhost:7575"), Some("127.0.0.1:7575"), false),
            (Some("http://127.0.0.1:7576"), Some("127.0.0.1:7575"), false),
            (Some("http://evil.example"), Some("127.0.0.1:7575"), false),
            (Some("null"), Some("127.0.0.1:7575"), false),
            (Some("https://proxy.example"), Some("proxy.example"), true),
            (
                Some("https://proxy.example:443"),
                Some("proxy.example"),
                true,
            ),
            (Some("http://proxy.example"), Some("proxy.example:80"), true),
            (Some("https://dash.example"), Some("127.0.0.1:7575"), true),
            (
                Some("https://dash.example:444"),
                Some("127.0.0.1:7575"),
                false,
            ),
            (Some("http://127.0.0.1:7575"), None, false),
            (Some("ftp://127.0.0.1:7575"), Some("127.0.0.1:7575"), false),
        ];
        for (origin, host, expected) in cases {
            assert_eq!(
                origin_allowed(*origin, *host, &allowed),
                *expected,
                "{origin:?} with Host {host:?}"
            );
        }
    }

    #[test]
    fn body_types() {
        let cases: &[(bool, Option<&str>, bool)] = &[
            (false, None, true),
            (false, Some("text/plain"), true),
            (true, Some("application/json"), true),
            (true, Some("Application/JSON; charset=utf-8"), true),
            (true, Some("application/merge-patch+json"), true),
            (true, Some("text/plain"), false),
            (true, Some("text/plain; application/json"), false),
            (true, Some("application/x-www-form-urlencoded"), false),
            (true, Some("multipart/form-data; boundary=x"), false),
            (true, Some("application/jsonx"), false),
            (true, None, false),
        ];
        for (body, content_type, expected) in cases {
            assert_eq!(
                body_type_allowed(*body, *content_type),
                *expected,
                "{body} {content_type:?}"
            );
        }
    }

    #[test]
    fn route_roles_come_from_the_table() {
        let roles = RouteRoles::from_table();
        let cases: &[(Method, &str, Role)] = &[
            (Method::GET, "/api/v1/daemon/health", Role::Public),
            (Method::GET, "/api/v1/daemon/whoami", Role::Public),
            (Method::GET, "/api/v1/daemon/ready", Role::Public),
            (Method::GET, "/", Role::Public),
            (Method::GET, "/dashboard/app.js", Role::Public),
            (Method::HEAD, "/dashboard/style.css", Role::Public),
            (Method::GET, "/dashboard/", Role::Read),
            (Method::GET, "/dashboard/a/b.js", Role::Read),
            (Method::GET, "/dashboard", Role::Read),
            (Method::POST, "/", Role::Read),
            (Method::GET, "/health", Role::Read),
            (Method::GET, "/api/v1/daemonhealth", Role::Read),
            (Method::GET, "/api/v1/daemon/programs/health", Role::Read),
            (Method::GET, "/api/v1/daemon/programs", Role::Read),
            (Method::GET, "/api/v1/daemon/programs/add", Role::Read),
            (Method::POST, "/api/v1/daemon/programs/add", Role::Admin),
            (Method::GET, "/api/v1/daemon/programs/web", Role::Read),
            (Method::HEAD, "/api/v1/daemon/programs/web", Role::Read),
            (
                Method::POST,
                "/api/v1/daemon/programs/web/start",
                Role::Operate,
            ),
            (
                Method::POST,
                "/api/v1/daemon/programs/web/enable",
                Role::Admin,
            ),
            (
                Method::GET,
                "/api/v1/daemon/programs/web/logs",
                Role::Operate,
            ),
            (
                Method::GET,
                "/api/v1/daemon/programs/web/history",
                Role::Read,
            ),
            (
                Method::POST,
                "/api/v1/daemon/programs/remove/3",
                Role::Admin,
            ),
            (Method::POST, "/api/v1/daemon/quick-start", Role::Admin),
            (
                Method::GET,
                "/api/v1/daemon/quick-start/1/logs",
                Role::Operate,
            ),
            (
                Method::POST,
                "/api/v1/daemon/quick-start/1/stop",
                Role::Operate,
            ),
            (Method::GET, "/api/v1/daemon/nothing/here", Role::Read),
            (Method::GET, "/elsewhere", Role::Read),
            (Method::DELETE, "/api/v1/daemon/health", Role::Read),
        ];
        for (method, path, role) in cases {
            assert_eq!(roles.needed(method, path), *role, "{method} {path}");
        }
    }

    #[test]
    fn roles_cover_the_ones_below() {
        let access = |role| Access {
            role,
            token_name: None,
            auth: Auth::Token,
            uid: None,
        };
        assert!(access(None).allows(Role::Public));
        assert!(!access(None).allows(Role::Read));
        assert!(access(Some(Role::Read)).allows(Role::Read));
        assert!(!access(Some(Role::Read)).allows(Role::Operate));
        assert!(access(Some(Role::Operate)).allows(Role::Read));
        assert!(!access(Some(Role::Operate)).allows(Role::Admin));
        assert!(access(Some(Role::Admin)).allows(Role::Admin));
        assert!(!access(Some(Role::Operate)).sees_secrets());
        assert!(access(Some(Role::Admin)).sees_secrets());
    }
}
