//! The health, readiness and dependency fields of a program (SPEC §12): `[healthcheck]` with
//! one probe (`exec`, `http` or `tcp`) and its timings, `ready_log_line`, `notify`,
//! `watchdog_sec` and `depends_on` with its conditions — their forms as written, the checks of
//! each value, and the resolved types the rest of the daemon uses.
//!
//! Pure like the rest of `spec`: an `http` or `tcp` target is an IP address or `localhost`, never
//! a host name, so a probe never waits on a DNS lookup (the loop's thread must not block, and
//! the lookup would need a thread of its own).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Problem;
use super::fields::{RawCommand, command, describe, seconds_to_json};
use super::name::{check_name, quote_short};

/// Defaults of `[healthcheck]` (SPEC §12).
pub mod defaults {
    pub const INTERVAL: f64 = 10.0;
    pub const TIMEOUT: f64 = 2.0;
    pub const RETRIES: u32 = 3;
    pub const START_PERIOD: f64 = 0.0;
}

/// The shortest `interval` and `timeout`: a probe ten times a second is already a lot.
const MIN_PROBE_SECONDS: f64 = 0.1;
/// The longest time setting accepted: a day (as for every other time field).
const MAX_SECONDS: f64 = 86_400.0;
/// The most retries.
const MAX_RETRIES: u64 = 10_000;
/// The longest `ready_log_line`, in bytes: it is looked for in every line until it is seen.
pub const MAX_READY_LINE: usize = 1024;
/// The most dependencies one program may list.
const MAX_DEPENDENCIES: usize = 1_000;

/// The keys of `[healthcheck]`, in the order they are written.
pub const HEALTHCHECK_FIELDS: &[&str] = &[
    "exec",
    "http",
    "tcp",
    "interval",
    "timeout",
    "retries",
    "start_period",
    "on_unhealthy",
];

/// What a failing health check does once it is unhealthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnhealthy {
    /// Restart the program (gracefully: its stop signal, then SIGKILL after `stopwaitsecs`).
    Restart,
    /// Only report it.
    None,
}

impl OnUnhealthy {
    pub fn as_str(self) -> &'static str {
        match self {
            OnUnhealthy::Restart => "restart",
            OnUnhealthy::None => "none",
        }
    }
}

/// An `http` probe's target: `GET path` from `address`, with `Host: host`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HttpTarget {
    /// As written.
    pub url: String,
    pub address: SocketAddr,
    /// The `Host` header: the URL's host and port as written.
    pub host: String,
    /// The path and query, at least `/`.
    pub path: String,
}

/// A `tcp` probe's target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TcpTarget {
    /// As written.
    pub target: String,
    pub address: SocketAddr,
}

/// How a program is probed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Probe {
    /// A command, run as the program's user, in its folder and environment; exit 0 is healthy.
    Exec(Vec<String>),
    /// An HTTP GET; a 2xx or 3xx answer is healthy.
    Http(HttpTarget),
    /// A TCP connection; connecting is healthy.
    Tcp(TcpTarget),
}

impl Probe {
    pub fn kind(&self) -> &'static str {
        match self {
            Probe::Exec(_) => "exec",
            Probe::Http(_) => "http",
            Probe::Tcp(_) => "tcp",
        }
    }
}

/// A validated `[healthcheck]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Healthcheck {
    pub probe: Probe,
    /// Between the starts of two probes.
    pub interval: Duration,
    /// A probe that takes longer fails (an exec probe is killed with its process group).
    pub timeout: Duration,
    /// Failures in a row that make the program unhealthy.
    pub retries: u32,
    /// After the process starts, failures in this long do not count.
    pub start_period: Duration,
    pub on_unhealthy: OnUnhealthy,
}

/// A `depends_on` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The dependency is RUNNING.
    Started,
    /// The dependency is ready (SPEC §12).
    Ready,
    /// The dependency exited with one of its `exitcodes`.
    CompletedSuccessfully,
}

impl Condition {
    pub const ALL: [Condition; 3] = [
        Condition::Started,
        Condition::Ready,
        Condition::CompletedSuccessfully,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "started",
            Condition::Ready => "ready",
            Condition::CompletedSuccessfully => "completed_successfully",
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// `[healthcheck]` as written: typed and range-checked, not defaulted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawHealthcheck {
    pub exec: Option<RawCommand>,
    pub http: Option<String>,
    pub tcp: Option<String>,
    pub interval: Option<f64>,
    pub timeout: Option<f64>,
    pub retries: Option<u32>,
    pub start_period: Option<f64>,
    pub on_unhealthy: Option<OnUnhealthy>,
}

/// `depends_on` as written: a list (each must be started) or a map of conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawDependsOn {
    List(Vec<String>),
    Map(BTreeMap<String, Condition>),
}

impl RawDependsOn {
    pub fn resolve(&self) -> BTreeMap<String, Condition> {
        match self {
            RawDependsOn::List(names) => names
                .iter()
                .map(|name| (name.clone(), Condition::Started))
                .collect(),
            RawDependsOn::Map(map) => map.clone(),
        }
    }

    /// The written form of resolved dependencies: a list when every condition is `started`.
    pub fn of(depends_on: &BTreeMap<String, Condition>) -> RawDependsOn {
        if depends_on
            .values()
            .all(|condition| *condition == Condition::Started)
        {
            RawDependsOn::List(depends_on.keys().cloned().collect())
        } else {
            RawDependsOn::Map(depends_on.clone())
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            RawDependsOn::List(names) => Value::from(names.clone()),
            RawDependsOn::Map(map) => Value::Object(
                map.iter()
                    .map(|(name, condition)| (name.clone(), Value::from(condition.as_str())))
                    .collect(),
            ),
        }
    }
}

impl RawHealthcheck {
    /// Reads the `[healthcheck]` table; every problem names its key (`healthcheck.interval`).
    pub fn read(value: &Value) -> Result<RawHealthcheck, Vec<Problem>> {
        let Value::Object(table) = value else {
            return Err(vec![Problem::field(
                "healthcheck",
                format!(
                    "expected a table ([healthcheck] with exec, http or tcp), found {}",
                    describe(value)
                ),
            )]);
        };
        let mut raw = RawHealthcheck::default();
        let mut problems = Vec::new();
        for (key, item) in table {
            if item.is_null() {
                continue;
            }
            if let Err(message) = raw.set(key, item) {
                problems.push(Problem::field(&format!("healthcheck.{key}"), message));
            }
        }
        let probes: Vec<&str> = ["exec", "http", "tcp"]
            .into_iter()
            .filter(|kind| table.get(*kind).is_some_and(|value| !value.is_null()))
            .collect();
        match probes.as_slice() {
            [] => problems.push(Problem::field(
                "healthcheck",
                "has no probe; give one of exec (a command), http (a URL) or tcp (HOST:PORT)",
            )),
            [_] => {}
            several => problems.push(Problem::field(
                "healthcheck",
                format!(
                    "{} are all set; give exactly one of exec, http, tcp",
                    several.join(" and ")
                ),
            )),
        }
        if problems.is_empty() {
            Ok(raw)
        } else {
            Err(problems)
        }
    }

    fn set(&mut self, key: &str, value: &Value) -> Result<(), String> {
        match key {
            "exec" => self.exec = Some(command(value)?),
            "http" => {
                let url = text(value)?;
                http_target(&url)?;
                self.http = Some(url);
            }
            "tcp" => {
                let target = text(value)?;
                tcp_target(&target)?;
                self.tcp = Some(target);
            }
            "interval" => self.interval = Some(probe_seconds(value)?),
            "timeout" => self.timeout = Some(probe_seconds(value)?),
            "retries" => self.retries = Some(retries(value)?),
            "start_period" => self.start_period = Some(seconds(value)?),
            "on_unhealthy" => self.on_unhealthy = Some(on_unhealthy(value)?),
            unknown => {
                return Err(match closest(unknown, HEALTHCHECK_FIELDS) {
                    Some(field) => format!(
                        "unknown key {}; did you mean `{field}`? ([healthcheck] takes {})",
                        quote_short(unknown),
                        HEALTHCHECK_FIELDS.join(", ")
                    ),
                    None => format!(
                        "unknown key {}; [healthcheck] takes {}",
                        quote_short(unknown),
                        HEALTHCHECK_FIELDS.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// Applies the defaults. The probe was checked when it was read.
    pub fn resolve(&self) -> Result<Healthcheck, String> {
        let probe = if let Some(exec) = &self.exec {
            Probe::Exec(match exec {
                RawCommand::Argv(argv) => argv.clone(),
                RawCommand::Line(line) => shell_words::split(line).unwrap_or_default(),
            })
        } else if let Some(url) = &self.http {
            Probe::Http(http_target(url)?)
        } else if let Some(target) = &self.tcp {
            Probe::Tcp(tcp_target(target)?)
        } else {
            return Err("has no probe; give one of exec, http or tcp".to_string());
        };
        Ok(Healthcheck {
            probe,
            interval: Duration::from_secs_f64(self.interval.unwrap_or(defaults::INTERVAL)),
            timeout: Duration::from_secs_f64(self.timeout.unwrap_or(defaults::TIMEOUT)),
            retries: self.retries.unwrap_or(defaults::RETRIES),
            start_period: Duration::from_secs_f64(
                self.start_period.unwrap_or(defaults::START_PERIOD),
            ),
            on_unhealthy: self.on_unhealthy.unwrap_or(OnUnhealthy::Restart),
        })
    }

    /// Every key of a check, written out in full.
    pub fn of(check: &Healthcheck) -> RawHealthcheck {
        let mut raw = RawHealthcheck {
            interval: Some(check.interval.as_secs_f64()),
            timeout: Some(check.timeout.as_secs_f64()),
            retries: Some(check.retries),
            start_period: Some(check.start_period.as_secs_f64()),
            on_unhealthy: Some(check.on_unhealthy),
            ..RawHealthcheck::default()
        };
        match &check.probe {
            Probe::Exec(argv) => raw.exec = Some(RawCommand::Line(shell_words::join(argv))),
            Probe::Http(target) => raw.http = Some(target.url.clone()),
            Probe::Tcp(target) => raw.tcp = Some(target.target.clone()),
        }
        raw
    }

    /// The keys that are set, in their canonical written form.
    pub fn to_json(&self) -> Value {
        let mut table = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                table.insert(key.to_string(), value);
            }
        };
        put(
            "exec",
            self.exec.as_ref().map(|command| match command {
                RawCommand::Line(line) => Value::from(line.clone()),
                RawCommand::Argv(argv) => Value::from(argv.clone()),
            }),
        );
        put("http", self.http.clone().map(Value::from));
        put("tcp", self.tcp.clone().map(Value::from));
        put("interval", self.interval.map(seconds_to_json));
        put("timeout", self.timeout.map(seconds_to_json));
        put("retries", self.retries.map(Value::from));
        put("start_period", self.start_period.map(seconds_to_json));
        put(
            "on_unhealthy",
            self.on_unhealthy.map(|action| Value::from(action.as_str())),
        );
        Value::Object(table)
    }
}

/// Reads `depends_on`: a list of program names, or a map of name → condition.
pub fn read_depends_on(value: &Value) -> Result<RawDependsOn, String> {
    let conditions = Condition::ALL.map(Condition::as_str).join(", ");
    match value {
        Value::Array(items) => {
            if items.len() > MAX_DEPENDENCIES {
                return Err(format!("lists more than {MAX_DEPENDENCIES} programs"));
            }
            let mut names: Vec<String> = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let Value::String(name) = item else {
                    return Err(format!(
                        "item {index}: expected a program name, found {}",
                        describe(item)
                    ));
                };
                check_name(name).map_err(|message| format!("item {index}: {message}"))?;
                if names.contains(name) {
                    return Err(format!("{} is listed twice", quote_short(name)));
                }
                names.push(name.clone());
            }
            Ok(RawDependsOn::List(names))
        }
        Value::Object(map) => {
            if map.len() > MAX_DEPENDENCIES {
                return Err(format!("names more than {MAX_DEPENDENCIES} programs"));
            }
            let mut resolved = BTreeMap::new();
            for (name, condition) in map {
                check_name(name).map_err(|message| format!("program {message}"))?;
                let parsed = match condition {
                    Value::String(text) => Condition::ALL
                        .into_iter()
                        .find(|known| known.as_str() == text.trim()),
                    _ => None,
                };
                let Some(parsed) = parsed else {
                    return Err(format!(
                        "the condition for {} must be one of {conditions}, found {}",
                        quote_short(name),
                        describe(condition)
                    ));
                };
                resolved.insert(name.clone(), parsed);
            }
            Ok(RawDependsOn::Map(resolved))
        }
        other => Err(format!(
            "expected a list of program names or a table of name = condition ({conditions}), found {}",
            describe(other)
        )),
    }
}

/// Reads `ready_log_line`: text on one line.
pub fn read_ready_log_line(value: &Value) -> Result<String, String> {
    let line = text(value)?;
    if line.is_empty() {
        return Err("is empty; give the text a line must contain, or leave the field out".into());
    }
    if line.contains(['\n', '\r']) {
        return Err("must be on one line (it is looked for in each line of output)".into());
    }
    if line.len() > MAX_READY_LINE {
        return Err(format!("is longer than {MAX_READY_LINE} bytes"));
    }
    Ok(line)
}

fn text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(text) if text.contains('\0') => {
            Err("must not contain a NUL character".to_string())
        }
        Value::String(text) => Ok(text.clone()),
        other => Err(format!("expected a string, found {}", describe(other))),
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    }
}

fn seconds(value: &Value) -> Result<f64, String> {
    match number(value) {
        Some(seconds) if seconds.is_finite() && (0.0..=MAX_SECONDS).contains(&seconds) => {
            Ok(seconds)
        }
        _ => Err(format!(
            "expected a number of seconds from 0 to {MAX_SECONDS}, found {}",
            describe(value)
        )),
    }
}

fn probe_seconds(value: &Value) -> Result<f64, String> {
    match number(value) {
        Some(seconds)
            if seconds.is_finite() && (MIN_PROBE_SECONDS..=MAX_SECONDS).contains(&seconds) =>
        {
            Ok(seconds)
        }
        _ => Err(format!(
            "expected a number of seconds from {MIN_PROBE_SECONDS} to {MAX_SECONDS}, found {}",
            describe(value)
        )),
    }
}

fn retries(value: &Value) -> Result<u32, String> {
    let count = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    };
    match count {
        Some(count) if (1..=MAX_RETRIES).contains(&count) => Ok(count as u32),
        _ => Err(format!(
            "expected an integer from 1 to {MAX_RETRIES} (failures in a row that make it unhealthy), found {}",
            describe(value)
        )),
    }
}

fn on_unhealthy(value: &Value) -> Result<OnUnhealthy, String> {
    match value {
        Value::String(text) if text.trim().eq_ignore_ascii_case("restart") => {
            Ok(OnUnhealthy::Restart)
        }
        Value::String(text) if text.trim().eq_ignore_ascii_case("none") => Ok(OnUnhealthy::None),
        other => Err(format!(
            "expected \"restart\" or \"none\", found {}",
            describe(other)
        )),
    }
}

/// `127.0.0.1`, `[::1]` or `localhost` (as 127.0.0.1); a host name is refused.
fn host_address(host: &str) -> Result<IpAddr, String> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    if let Some(inner) = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        return inner
            .parse::<std::net::Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| format!("{} is not an IPv6 address", quote_short(inner)));
    }
    host.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| {
        format!(
            "{} is not an IP address; give one (127.0.0.1, [::1]) or localhost: host names are not resolved, so a probe never waits on DNS",
            quote_short(host)
        )
    })
}

/// Splits `host:port` (`[v6]:port`); `default` when there is no port.
fn host_and_port(authority: &str, default: Option<u16>) -> Result<(IpAddr, u16), String> {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => {
                let (host, rest) = authority.split_at(end + 1);
                match rest.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None if rest.is_empty() => (host, None),
                    None => return Err(format!("{} is not HOST:PORT", quote_short(authority))),
                }
            }
            None => return Err(format!("{} has no closing ']'", quote_short(authority))),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{} has no host", quote_short(authority)));
    }
    let address = host_address(host)?;
    let port = match port {
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => {
                return Err(format!(
                    "the port {} is not a number from 1 to 65535",
                    quote_short(port)
                ));
            }
        },
        None => default.ok_or_else(|| {
            format!(
                "{} has no port; write HOST:PORT, as in 127.0.0.1:5432",
                quote_short(authority)
            )
        })?,
    };
    Ok((address, port))
}

/// Checks and splits an `http` probe's URL.
pub fn http_target(url: &str) -> Result<HttpTarget, String> {
    let lower = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if lower.starts_with("https://") {
        return Err(format!(
            "{} is https, which the http probe does not speak; probe a plain-http port, or use exec with curl",
            quote_short(url)
        ));
    }
    let rest = match url.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("http://") => &url[7..],
        _ => {
            return Err(format!(
                "{} is not an http:// URL (as in http://127.0.0.1:8080/healthz)",
                quote_short(url)
            ));
        }
    };
    if let Some(bad) = rest.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "{} contains {bad:?}; a URL has no spaces or control characters (percent-encode them)",
            quote_short(url)
        ));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.contains('@') {
        return Err(format!(
            "{} has credentials; the http probe sends none",
            quote_short(url)
        ));
    }
    let path = path.split('#').next().unwrap_or("");
    let path = if path.is_empty() {
        "/".to_string()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    let (ip, port) = host_and_port(authority, Some(80))?;
    Ok(HttpTarget {
        url: url.to_string(),
        address: SocketAddr::new(ip, port),
        host: authority.to_string(),
        path,
    })
}

/// Checks a `tcp` probe's `HOST:PORT`.
pub fn tcp_target(target: &str) -> Result<TcpTarget, String> {
    if target.contains("://") {
        return Err(format!(
            "{} is a URL; tcp takes HOST:PORT, as in 127.0.0.1:5432",
            quote_short(target)
        ));
    }
    let (ip, port) = host_and_port(target.trim(), None)?;
    Ok(TcpTarget {
        target: target.to_string(),
        address: SocketAddr::new(ip, port),
    })
}

/// The closest of `known` to `key`, when it is close enough to be a typo.
pub(super) fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|field| (super::fields::edit_distance(key, field), *field))
        .min()
        .filter(|(distance, _)| *distance <= 3)
        .map(|(_, field)| field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls() {
        let good = [
            (
                "http://127.0.0.1:8080/healthz",
                "127.0.0.1:8080",
                "/healthz",
            ),
            ("http://127.0.0.1", "127.0.0.1:80", "/"),
            ("HTTP://localhost:9/x?y=1", "127.0.0.1:9", "/x?y=1"),
            ("http://[::1]:81", "[::1]:81", "/"),
            ("http://10.0.0.7:80?ready", "10.0.0.7:80", "/?ready"),
            ("http://127.0.0.1:8080/a#frag", "127.0.0.1:8080", "/a"),
        ];
        for (url, address, path) in good {
            let target = http_target(url).unwrap_or_else(|error| panic!("{url}: {error}"));
            assert_eq!(target.address.to_string(), address, "{url}");
            assert_eq!(target.path, path, "{url}");
        }
        let bad = [
            ("https://127.0.0.1/", "https"),
            ("127.0.0.1:8080", "not an http:// URL"),
            ("http://example.com/", "not an IP address"),
            ("http://127.0.0.1:0/", "port"),
            ("http://127.0.0.1:99999/", "port"),
            ("http://127.0.0.1/a b", "spaces"),
            ("http://127.0.0.1/a\r\nX: y", "control"),
            ("http://user:pw@127.0.0.1/", "credentials"),
            ("http://[::1/", "closing"),
            ("http:///x", "no host"),
        ];
        for (url, fragment) in bad {
            let error = http_target(url).expect_err(url);
            assert!(error.contains(fragment), "{url}: {error}");
        }
    }

    #[test]
    fn tcp_targets() {
        assert_eq!(
            tcp_target("127.0.0.1:5432").map(|t| t.address.to_string()),
            Ok("127.0.0.1:5432".to_string())
        );
        assert_eq!(
            tcp_target("localhost:6379").map(|t| t.address.to_string()),
            Ok("127.0.0.1:6379".to_string())
        );
        assert_eq!(
            tcp_target("[::1]:1").map(|t| t.address.to_string()),
            Ok("[::1]:1".to_string())
        );
        for (target, fragment) in [
            ("127.0.0.1", "no port"),
            ("db:5432", "not an IP address"),
            ("http://127.0.0.1:1", "is a URL"),
            ("127.0.0.1:x", "port"),
        ] {
            let error = tcp_target(target).expect_err(target);
            assert!(error.contains(fragment), "{target}: {error}");
        }
    }
}
