//! The supervisord bridge: `POST /RPC2` (supervisord's XML-RPC interface, for supervisorctl and
//! the tools that speak it) and `GET /logtail/NAME[/stdout|/stderr]` (the HTTP stream behind
//! `supervisorctl tail -f`). Both live at the root, where supervisorctl asks for them.
//!
//! Every method turns into the daemon's ordinary requests through the [`Handle`]: a
//! `startProcess` is a `POST …/programs/{id}/start` (the run intent), a `stopProcess` a stop,
//! a `getAllProcessInfo` a read; nothing touches a process or a file behind the loop's back.
//! supervisord's vocabulary (codes, namespecs, log ranges, the process-info struct) is the pure
//! [`supervisord`] module; the wire format is [`crate::xmlrpc`].
//!
//! Access: the route table gives `/RPC2` the `read` role and `/logtail` `operate`; each method
//! needs its own role on top (`supervisord::METHODS`), checked for every call of a multicall
//! before any runs; the caller's role comes from the request's extensions (`Role`), and a
//! request without one is `admin` (a daemon without scoped tokens). These endpoints serve
//! tools, not pages: a request a browser sends for a page (an `Origin` header, or
//! `Sec-Fetch-Site` other than `none`) is refused, and `/RPC2` takes only `text/xml` bodies,
//! which no page can send across origins without a CORS preflight the daemon never grants.

mod logtail;
pub mod supervisord;

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::join_all;
use serde_json::{Value as Json, json};

use super::openapi::Role;
use super::{AppState, body_bytes, error};
use crate::daemon::{Failure, FailureKind, Handle, ProcessInfo, ProcessesAnswer, Request};
use crate::supervisor::ProcessState;
use crate::xmlrpc::{self, Fault, Value};
use supervisord::{LocalTime, Target, fault, faults};

pub(super) use logtail::{logtail, logtail_stream};

/// `POST /RPC2`.
pub(super) async fn rpc2(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    if let Some(refused) = refuse_pages(&parts.headers) {
        return refused;
    }
    if !is_xml(&parts.headers) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "an XML-RPC request is sent as Content-Type: text/xml",
            json!({ "accepted": ["text/xml", "application/xml"] }),
        );
    }
    let bytes = match body_bytes(body).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let call = match xmlrpc::parse_call(&bytes) {
        Ok(call) => call,
        Err(problem) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_xml",
                &format!("the XML-RPC request is not valid: {problem}"),
                json!({ "line": problem.line }),
            );
        }
    };
    let role = caller_role(&parts.extensions).unwrap_or(Role::Public);
    if let Err(refused) = check_roles(&call, role) {
        return refused;
    }
    let outcome = Bridge {
        handle: &state.handle,
    }
    .call(&call.method, &call.params)
    .await;
    if let Err(fault) = &outcome {
        tracing::debug!(method = %call.method, code = fault.code, message = %fault.message, "XML-RPC fault");
    }
    let body = match &outcome {
        Ok(value) => xmlrpc::write_response(value),
        Err(fault) => xmlrpc::write_fault(fault),
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/xml")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        Body::from(body),
    )
        .into_response()
}

/// Whether a request path is the supervisord bridge's.
pub fn is_bridge_path(path: &str) -> bool {
    path == "/RPC2" || path.starts_with("/logtail/")
}

/// The caller's role, from the [`Access`](crate::api::Access) the checks put into every
/// request's extensions; the route's own role (read) is already checked there, so a caller
/// without a role never gets here, and one without an `Access` (none is ever missing) has none.
pub fn caller_role(extensions: &Extensions) -> Option<Role> {
    extensions
        .get::<crate::api::Access>()
        .and_then(|access| access.role)
}

/// Refuses the call (403, nothing run) when the caller's role does not cover its method, or
/// any method of a multicall.
fn check_roles(call: &xmlrpc::Call, role: Role) -> Result<(), Response> {
    let mut methods = vec![call.method.as_str()];
    if call.method == "system.multicall"
        && let Some(calls) = call.params.first().and_then(Value::as_array)
    {
        methods.extend(
            calls
                .iter()
                .filter_map(|call| call.member("methodName").and_then(Value::as_str)),
        );
    }
    for method in methods {
        if let Some(found) = supervisord::find_method(method)
            && found.role > role
        {
            return Err(error(
                StatusCode::FORBIDDEN,
                "forbidden",
                &format!(
                    "{method} needs the {} role; this token has {}",
                    found.role.as_str(),
                    role.as_str()
                ),
                json!({ "method": method, "role_needed": found.role.as_str(), "role": role.as_str() }),
            ));
        }
    }
    Ok(())
}

/// These endpoints serve tools: what a browser sends on a page's behalf is refused.
pub(super) fn refuse_pages(headers: &HeaderMap) -> Option<Response> {
    let origin = headers.get(header::ORIGIN);
    let site = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok());
    if origin.is_none() && site.is_none_or(|site| site.eq_ignore_ascii_case("none")) {
        return None;
    }
    Some(error(
        StatusCode::FORBIDDEN,
        "forbidden_origin",
        "the supervisord bridge (/RPC2, /logtail) serves tools such as supervisorctl, not web pages: a request sent by a page (Origin or Sec-Fetch-Site) is refused",
        json!({
            "origin": origin.and_then(|value| value.to_str().ok()),
            "sec_fetch_site": site,
        }),
    ))
}

fn is_xml(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim)
        .is_some_and(|media| {
            media.eq_ignore_ascii_case("text/xml") || media.eq_ignore_ascii_case("application/xml")
        })
}

// ---- the methods -------------------------------------------------------------------------

struct Bridge<'a> {
    handle: &'a Handle,
}

type Outcome = Result<Value, Fault>;

impl Bridge<'_> {
    async fn call(&self, method: &str, params: &[Value]) -> Outcome {
        checked(method, params)?;
        if method == "system.multicall" {
            return self.multicall(params).await;
        }
        self.call_one(method, params).await
    }

    /// `system.multicall`: the calls in order, each answered by `[value]` or a fault struct.
    async fn multicall(&self, params: &[Value]) -> Outcome {
        let Some(calls) = params.first().and_then(Value::as_array) else {
            return Err(fault(
                faults::INCORRECT_PARAMETERS,
                "system.multicall takes an array of {methodName, params} structs",
            ));
        };
        let mut results = Vec::with_capacity(calls.len());
        for call in calls {
            let name = call.member("methodName").and_then(Value::as_str);
            let empty = Value::Array(Vec::new());
            let params = call.member("params").unwrap_or(&empty);
            let outcome = match (name, params.as_array()) {
                (None, _) => Err(fault(faults::INCORRECT_PARAMETERS, "No methodName")),
                (Some("system.multicall"), _) => Err(fault(
                    faults::INCORRECT_PARAMETERS,
                    "Recursive system.multicall forbidden",
                )),
                (Some(_), None) => Err(fault(
                    faults::INCORRECT_PARAMETERS,
                    "params must be an array",
                )),
                (Some(name), Some(params)) => match checked(name, params) {
                    Ok(()) => self.call_one(name, params).await,
                    Err(fault) => Err(fault),
                },
            };
            results.push(match outcome {
                Ok(value) => Value::Array(vec![value]),
                Err(fault) => fault.to_value(),
            });
        }
        Ok(Value::Array(results))
    }

    async fn call_one(&self, method: &str, params: &[Value]) -> Outcome {
        match method {
            "system.listMethods" => {
                let mut names: Vec<&str> = supervisord::METHODS
                    .iter()
                    .map(|method| method.name)
                    .collect();
                names.sort_unstable();
                Ok(Value::Array(names.into_iter().map(Value::from).collect()))
            }
            "system.methodHelp" => supervisord::find_method(string(params, 0)?)
                .map(|method| Value::from(method.help))
                .ok_or_else(|| fault(faults::SIGNATURE_UNSUPPORTED, "")),
            "system.methodSignature" => supervisord::find_method(string(params, 0)?)
                .map(|method| {
                    Value::Array(
                        method
                            .signature
                            .iter()
                            .map(|kind| Value::from(*kind))
                            .collect(),
                    )
                })
                .ok_or_else(|| fault(faults::SIGNATURE_UNSUPPORTED, "")),
            "supervisor.getAPIVersion" | "supervisor.getVersion" => {
                Ok(Value::from(supervisord::API_VERSION))
            }
            "supervisor.getSupervisorVersion" => Ok(Value::from(format!(
                "hoody-daemon {}",
                env!("CARGO_PKG_VERSION")
            ))),
            "supervisor.getIdentification" => Ok(Value::from("hoody-daemon")),
            "supervisor.getPID" => Ok(supervisord::capped(i64::from(std::process::id()))),
            "supervisor.getState" => {
                let answer = self.processes(None).await?;
                Ok(supervisord::daemon_state(answer.shutting_down))
            }
            "supervisor.getProcessInfo" => {
                let name = string(params, 0)?;
                let Target::Process(process) = supervisord::target(name)? else {
                    return Err(fault(faults::BAD_NAME, name));
                };
                let info = self.process(&process, name).await?;
                Ok(info_value(&info))
            }
            "supervisor.getAllProcessInfo" => {
                let answer = self.processes(None).await?;
                Ok(Value::Array(
                    answer.processes.iter().map(info_value).collect(),
                ))
            }
            "supervisor.getAllConfigInfo" => {
                let answer = self.processes(None).await?;
                Ok(Value::Array(
                    answer
                        .processes
                        .iter()
                        .map(supervisord::config_info)
                        .collect(),
                ))
            }
            "supervisor.startProcess" => {
                let name = string(params, 0)?;
                let wait = flag(params, 1)?;
                match supervisord::target(name)? {
                    Target::Process(process) => self.start_one(&process, name, wait).await,
                    Target::Group(group) => self.start_group(&group, wait).await,
                }
            }
            "supervisor.startProcessGroup" => {
                self.start_group(string(params, 0)?, flag(params, 1)?).await
            }
            "supervisor.startAllProcesses" => {
                let wait = flag(params, 0)?;
                let mut startable: Vec<ProcessInfo> = self
                    .processes(None)
                    .await?
                    .processes
                    .into_iter()
                    .filter(|info| info.enabled && !is_running(info.state))
                    .collect();
                startable.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
                let outcomes = join_all(
                    startable
                        .iter()
                        .map(|info| self.start_one(&info.name, &info.name, wait)),
                )
                .await;
                Ok(items(&startable, &outcomes))
            }
            "supervisor.stopProcess" => {
                let name = string(params, 0)?;
                let wait = flag(params, 1)?;
                match supervisord::target(name)? {
                    Target::Process(process) => self.stop_one(&process, name, wait).await,
                    Target::Group(group) => self.stop_group(&group, wait).await,
                }
            }
            "supervisor.stopProcessGroup" => {
                self.stop_group(string(params, 0)?, flag(params, 1)?).await
            }
            "supervisor.stopAllProcesses" => {
                let wait = flag(params, 0)?;
                let mut running: Vec<ProcessInfo> = self
                    .processes(None)
                    .await?
                    .processes
                    .into_iter()
                    .filter(|info| is_running(info.state))
                    .collect();
                // Highest priority first, as a shutdown stops them.
                running.sort_by(|a, b| (b.priority, &b.name).cmp(&(a.priority, &a.name)));
                let outcomes = join_all(
                    running
                        .iter()
                        .map(|info| self.stop_one(&info.name, &info.name, wait)),
                )
                .await;
                Ok(items(&running, &outcomes))
            }
            "supervisor.signalProcess" => {
                let name = string(params, 0)?;
                let signal = string(params, 1)?;
                match supervisord::target(name)? {
                    Target::Process(process) => self.signal_one(&process, name, signal).await,
                    Target::Group(group) => self.signal_group(&group, signal).await,
                }
            }
            "supervisor.signalProcessGroup" => {
                self.signal_group(string(params, 0)?, string(params, 1)?)
                    .await
            }
            "supervisor.signalAllProcesses" => {
                let signal = string(params, 0)?;
                let signallable: Vec<ProcessInfo> = self
                    .processes(None)
                    .await?
                    .processes
                    .into_iter()
                    .filter(|info| is_signallable(info.state))
                    .collect();
                let outcomes = join_all(
                    signallable
                        .iter()
                        .map(|info| self.signal_one(&info.name, &info.name, signal)),
                )
                .await;
                Ok(items(&signallable, &outcomes))
            }
            "supervisor.readProcessStdoutLog" | "supervisor.readProcessLog" => {
                self.read_log(params, "stdout").await
            }
            "supervisor.readProcessStderrLog" => self.read_log(params, "stderr").await,
            "supervisor.tailProcessStdoutLog" | "supervisor.tailProcessLog" => {
                self.tail_log(params, "stdout").await
            }
            "supervisor.tailProcessStderrLog" => self.tail_log(params, "stderr").await,
            "supervisor.clearProcessLogs" | "supervisor.clearProcessLog" => {
                let name = string(params, 0)?;
                let Target::Process(process) = supervisord::target(name)? else {
                    return Err(fault(faults::BAD_NAME, name));
                };
                self.clear_one(&process, name).await
            }
            "supervisor.clearAllProcessLogs" => {
                let all = self.processes(None).await?.processes;
                let outcomes = join_all(
                    all.iter()
                        .map(|info| self.clear_one(&info.name, &info.name)),
                )
                .await;
                Ok(items(&all, &outcomes))
            }
            "supervisor.reloadConfig" => {
                let answer = self
                    .handle
                    .ask(Request::Rescan)
                    .await
                    .map_err(|failure| fault_of(&failure, ""))?;
                let data = answer.data.as_value().cloned().unwrap_or(Json::Null);
                let names = |key: &str| {
                    Value::Array(
                        data[key]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Json::as_str)
                            .map(Value::from)
                            .collect(),
                    )
                };
                Ok(Value::Array(vec![Value::Array(vec![
                    names("added"),
                    names("changed"),
                    names("removed"),
                ])]))
            }
            other => Err(fault(faults::UNKNOWN_METHOD, other)),
        }
    }

    async fn processes(&self, id: Option<&str>) -> Result<ProcessesAnswer, Fault> {
        let answer = self
            .handle
            .ask(Request::Processes {
                id: id.map(str::to_string),
            })
            .await
            .map_err(|failure| fault_of(&failure, id.unwrap_or("")))?;
        let data = answer.data.as_value().cloned().unwrap_or(Json::Null);
        serde_json::from_value(data).map_err(|problem| {
            fault(
                faults::FAILED,
                &format!("the daemon's answer cannot be read: {problem}"),
            )
        })
    }

    /// One program's process; `namespec` is what the caller wrote, for the fault.
    async fn process(&self, name: &str, namespec: &str) -> Result<ProcessInfo, Fault> {
        self.processes(Some(name))
            .await
            .map_err(|fault| named(fault, namespec))?
            .processes
            .into_iter()
            .next()
            .ok_or_else(|| fault(faults::BAD_NAME, namespec))
    }

    async fn start_one(&self, name: &str, namespec: &str, wait: bool) -> Outcome {
        let request = Request::Start {
            id: name.to_string(),
            wait,
        };
        let answer = match self.handle.ask(request).await {
            Ok(answer) => answer,
            // A start that ended without the program running (422 start_failed): the status
            // in the details says how, as supervisord's faults tell it.
            Err(failure) if failure.code == "start_failed" => {
                let status = &failure.details["status"];
                let state = serde_json::from_value::<ProcessState>(status["status"].clone())
                    .unwrap_or(ProcessState::Fatal);
                return Err(supervisord::start_outcome(
                    namespec,
                    state,
                    status["last_error"].as_str(),
                )
                .unwrap_or_else(|| {
                    fault(
                        faults::SPAWN_ERROR,
                        &format!("{namespec}: {}", failure.message),
                    )
                }));
            }
            Err(failure) => {
                return Err(match failure.kind {
                    // Not enabled, or never valid: it cannot be started; supervisorctl knows
                    // no closer fault than a spawn error (the message says which).
                    FailureKind::Conflict => fault(
                        faults::SPAWN_ERROR,
                        &format!("{namespec}: {}", failure.message),
                    ),
                    _ => fault_of(&failure, namespec),
                });
            }
        };
        let data = answer.data.as_value().cloned().unwrap_or(Json::Null);
        if data["changed"] == false {
            return Err(fault(faults::ALREADY_STARTED, namespec));
        }
        if wait {
            let state = serde_json::from_value::<ProcessState>(data["status"]["status"].clone())
                .unwrap_or(ProcessState::Starting);
            if let Some(failed) =
                supervisord::start_outcome(namespec, state, data["status"]["last_error"].as_str())
            {
                return Err(failed);
            }
        }
        Ok(Value::Bool(true))
    }

    async fn start_group(&self, group: &str, wait: bool) -> Outcome {
        let info = self.process(group, group).await?;
        if is_running(info.state) {
            return Ok(Value::Array(Vec::new()));
        }
        let outcome = self.start_one(&info.name, &info.name, wait).await;
        Ok(Value::Array(vec![supervisord::outcome_item(
            &info.name, &outcome,
        )]))
    }

    async fn stop_one(&self, name: &str, namespec: &str, wait: bool) -> Outcome {
        let request = Request::Stop {
            id: name.to_string(),
            wait,
        };
        let answer = match self.handle.ask(request).await {
            Ok(answer) => answer,
            // A program that never had a valid file has no process to stop.
            Err(failure) if failure.code == "no_valid_version" => {
                return Err(fault(faults::NOT_RUNNING, namespec));
            }
            Err(failure) => return Err(fault_of(&failure, namespec)),
        };
        let data = answer.data.as_value().cloned().unwrap_or(Json::Null);
        if data["changed"] == false {
            return Err(fault(faults::NOT_RUNNING, namespec));
        }
        Ok(Value::Bool(true))
    }

    async fn stop_group(&self, group: &str, wait: bool) -> Outcome {
        let info = self.process(group, group).await?;
        if !is_running(info.state) {
            return Ok(Value::Array(Vec::new()));
        }
        let outcome = self.stop_one(&info.name, &info.name, wait).await;
        Ok(Value::Array(vec![supervisord::outcome_item(
            &info.name, &outcome,
        )]))
    }

    async fn signal_one(&self, name: &str, namespec: &str, signal: &str) -> Outcome {
        let Some(parsed) = supervisord::parse_signal(signal) else {
            return Err(fault(faults::BAD_SIGNAL, signal));
        };
        let request = Request::Signal {
            id: name.to_string(),
            signal: parsed,
        };
        match self.handle.ask(request).await {
            Ok(_) => Ok(Value::Bool(true)),
            Err(failure) if matches!(failure.code, "not_running" | "no_valid_version") => {
                Err(fault(faults::NOT_RUNNING, namespec))
            }
            Err(failure) => Err(fault_of(&failure, namespec)),
        }
    }

    async fn signal_group(&self, group: &str, signal: &str) -> Outcome {
        let info = self.process(group, group).await?;
        if !is_signallable(info.state) {
            return Ok(Value::Array(Vec::new()));
        }
        let outcome = self.signal_one(&info.name, &info.name, signal).await;
        Ok(Value::Array(vec![supervisord::outcome_item(
            &info.name, &outcome,
        )]))
    }

    async fn clear_one(&self, name: &str, namespec: &str) -> Outcome {
        let request = Request::ClearLogs {
            id: name.to_string(),
        };
        match self.handle.ask(request).await {
            Ok(_) => Ok(Value::Bool(true)),
            Err(failure) => Err(fault_of(&failure, namespec)),
        }
    }

    /// The path of a program's `stream` log, if it has one.
    async fn log_path(&self, namespec: &str, stream: &str) -> Result<Option<PathBuf>, Fault> {
        let Target::Process(name) = supervisord::target(namespec)? else {
            return Err(fault(faults::BAD_NAME, namespec));
        };
        let answer = self
            .handle
            .ask(Request::LogPaths { id: name })
            .await
            .map_err(|failure| match failure.code {
                // Never valid: no log yet.
                "no_valid_version" => fault(faults::NO_FILE, namespec),
                _ => fault_of(&failure, namespec),
            })?;
        Ok(answer
            .data
            .as_value()
            .and_then(|paths| paths[stream].as_str())
            .map(PathBuf::from))
    }

    /// `readProcess*Log(name, offset, length)`.
    async fn read_log(&self, params: &[Value], stream: &str) -> Outcome {
        let name = string(params, 0)?;
        let offset = int(params, 1)?;
        let length = int(params, 2)?;
        let Some(path) = self.log_path(name, stream).await? else {
            return Err(fault(
                faults::NO_FILE,
                &format!("{name} has no {stream} log file"),
            ));
        };
        let shown = path.display().to_string();
        let read = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, Fault> {
            let mut file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(problem) if problem.kind() == std::io::ErrorKind::NotFound => {
                    return Err(fault(faults::NO_FILE, &shown));
                }
                Err(_) => return Err(fault(faults::FAILED, &shown)),
            };
            let size = file
                .metadata()
                .map_err(|_| fault(faults::FAILED, &shown))?
                .len();
            let (start, length) = supervisord::read_range(size, offset, length)?;
            read_at(&mut file, start, length).map_err(|_| fault(faults::FAILED, &shown))
        })
        .await
        .map_err(|_| fault(faults::FAILED, "the read was cancelled"))??;
        Ok(Value::from(supervisord::log_text(&read)))
    }

    /// `tailProcess*Log(name, offset, length)`: `[bytes, next offset, overflow]`.
    async fn tail_log(&self, params: &[Value], stream: &str) -> Outcome {
        let name = string(params, 0)?;
        let offset = int(params, 1)?;
        let length = int(params, 2)?;
        let nothing = || {
            Value::Array(vec![
                Value::from(""),
                supervisord::capped(offset),
                Value::Bool(false),
            ])
        };
        let Some(path) = self.log_path(name, stream).await? else {
            return Ok(nothing());
        };
        let read = tokio::task::spawn_blocking(move || {
            let mut file = std::fs::File::open(&path).ok()?;
            let size = file.metadata().ok()?.len();
            let tail = supervisord::tail_range(size, offset, length);
            let bytes = read_at(&mut file, tail.start, tail.length).ok()?;
            Some((bytes, tail))
        })
        .await
        .ok()
        .flatten();
        Ok(match read {
            Some((bytes, tail)) => Value::Array(vec![
                Value::from(supervisord::log_text(&bytes)),
                supervisord::capped(tail.next_offset as i64),
                Value::Bool(tail.overflow),
            ]),
            None => nothing(),
        })
    }
}

fn read_at(file: &mut std::fs::File, start: u64, length: u64) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(length).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// supervisord's RUNNING_STATES: what a start skips and a stop acts on.
fn is_running(state: ProcessState) -> bool {
    matches!(
        state,
        ProcessState::Running | ProcessState::Backoff | ProcessState::Starting
    )
}

/// supervisord's SIGNALLABLE_STATES.
fn is_signallable(state: ProcessState) -> bool {
    matches!(
        state,
        ProcessState::Running | ProcessState::Starting | ProcessState::Stopping
    )
}

fn items(infos: &[ProcessInfo], outcomes: &[Outcome]) -> Value {
    Value::Array(
        infos
            .iter()
            .zip(outcomes)
            .map(|(info, outcome)| supervisord::outcome_item(&info.name, outcome))
            .collect(),
    )
}

fn info_value(info: &ProcessInfo) -> Value {
    supervisord::process_info(info, unix_now(), local_time)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The local time of a unix time (supervisorctl shows when a process stopped in local time).
fn local_time(unix: u64) -> LocalTime {
    let seconds = libc::time_t::try_from(unix).unwrap_or(0);
    // SAFETY: `tm` is plain data that `localtime_r` fills in; both pointers are valid for the
    // call, and the reentrant variant keeps no pointer to them.
    let broken = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&seconds, &mut tm).is_null() {
            None
        } else {
            Some(tm)
        }
    };
    match broken {
        Some(tm) => LocalTime {
            month: u32::try_from(tm.tm_mon).unwrap_or(0),
            day: u32::try_from(tm.tm_mday).unwrap_or(1),
            hour: u32::try_from(tm.tm_hour).unwrap_or(0),
            minute: u32::try_from(tm.tm_min).unwrap_or(0),
        },
        None => LocalTime {
            month: 0,
            day: 1,
            hour: 0,
            minute: 0,
        },
    }
}

/// A daemon failure as a supervisord fault.
fn fault_of(failure: &Failure, namespec: &str) -> Fault {
    match failure.kind {
        FailureKind::NotFound => fault(faults::BAD_NAME, namespec),
        FailureKind::Unavailable => fault(faults::SHUTDOWN_STATE, ""),
        _ if namespec.is_empty() => fault(faults::FAILED, &failure.message),
        _ => fault(faults::FAILED, &format!("{namespec}: {}", failure.message)),
    }
}

/// A BAD_NAME fault names what the caller wrote.
fn named(fault: Fault, namespec: &str) -> Fault {
    if fault.code == faults::BAD_NAME {
        supervisord::fault(faults::BAD_NAME, namespec)
    } else {
        fault
    }
}

/// Checks that the method exists and gets as many parameters as its signature allows.
fn checked(method: &str, params: &[Value]) -> Result<(), Fault> {
    let Some(found) = supervisord::find_method(method) else {
        return Err(fault(faults::UNKNOWN_METHOD, method));
    };
    let most = found.signature.len() - 1;
    let least = most - found.optional;
    if params.len() < least || params.len() > most {
        let wanted = if least == most {
            format!("{most}")
        } else {
            format!("{least} to {most}")
        };
        return Err(fault(
            faults::INCORRECT_PARAMETERS,
            &format!(
                "{method} takes {wanted} parameter{}, not {}",
                if most == 1 { "" } else { "s" },
                params.len()
            ),
        ));
    }
    Ok(())
}

fn incorrect(index: usize, wanted: &str, found: Option<&Value>) -> Fault {
    fault(
        faults::INCORRECT_PARAMETERS,
        &format!(
            "parameter {} must be {wanted}, not {}",
            index + 1,
            found.map_or("missing", Value::type_name)
        ),
    )
}

fn string(params: &[Value], index: usize) -> Result<&str, Fault> {
    match params.get(index) {
        Some(Value::String(text)) => Ok(text),
        other => Err(incorrect(index, "a string", other)),
    }
}

/// An int, or a string of one (supervisord reads offsets with Python's `int()`).
fn int(params: &[Value], index: usize) -> Result<i64, Fault> {
    match params.get(index) {
        Some(Value::Int(number)) => Ok(*number),
        Some(Value::String(text)) => text
            .trim()
            .parse::<i64>()
            .map_err(|_| incorrect(index, "an int", params.get(index))),
        other => Err(incorrect(index, "an int", other)),
    }
}

/// `wait`: a boolean (or 0/1), true when left out.
fn flag(params: &[Value], index: usize) -> Result<bool, Fault> {
    match params.get(index) {
        None => Ok(true),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(Value::Int(0)) => Ok(false),
        Some(Value::Int(1)) => Ok(true),
        other => Err(incorrect(index, "a boolean", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: &str, params: Vec<Value>) -> xmlrpc::Call {
        xmlrpc::Call {
            method: method.into(),
            params,
        }
    }

    fn multicall(methods: &[&str]) -> xmlrpc::Call {
        call(
            "system.multicall",
            vec![Value::Array(
                methods
                    .iter()
                    .map(|method| {
                        Value::structure([
                            ("methodName", Value::from(*method)),
                            ("params", Value::Array(vec![])),
                        ])
                    })
                    .collect(),
            )],
        )
    }

    #[test]
    fn roles_are_checked_for_every_call_before_any_runs() {
        let table = [
            (
                call("supervisor.getAllProcessInfo", vec![]),
                Role::Read,
                true,
            ),
            (call("supervisor.startProcess", vec![]), Role::Read, false),
            (call("supervisor.startProcess", vec![]), Role::Operate, true),
            (
                call("supervisor.readProcessStdoutLog", vec![]),
                Role::Read,
                false,
            ),
            (call("supervisor.reloadConfig", vec![]), Role::Operate, true),
            (
                call("supervisor.clearProcessLogs", vec![]),
                Role::Operate,
                false,
            ),
            (
                call("supervisor.clearProcessLogs", vec![]),
                Role::Admin,
                true,
            ),
            // Unknown methods get their fault from the dispatch, whatever the role.
            (call("supervisor.nope", vec![]), Role::Read, true),
            (multicall(&["supervisor.getState"]), Role::Read, true),
            (
                multicall(&["supervisor.getState", "supervisor.stopProcess"]),
                Role::Read,
                false,
            ),
            (
                multicall(&["supervisor.getState", "supervisor.clearAllProcessLogs"]),
                Role::Operate,
                false,
            ),
        ];
        for (call, role, allowed) in table {
            assert_eq!(
                check_roles(&call, role).is_ok(),
                allowed,
                "{} as {role:?}",
                call.method
            );
        }
    }

    #[test]
    fn the_callers_role_is_read_from_its_access() {
        let mut extensions = Extensions::new();
        assert_eq!(caller_role(&extensions), None);
        extensions.insert(crate::api::Access {
            role: Some(Role::Read),
            token_name: None,
            auth: crate::api::Auth::Token,
            uid: None,
        });
        assert_eq!(caller_role(&extensions), Some(Role::Read));
    }

    #[test]
    fn only_xml_bodies_and_no_pages() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_static(value));
            }
            map
        };
        for (content_type, xml) in [
            ("text/xml", true),
            ("TEXT/XML; charset=utf-8", true),
            ("application/xml", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("multipart/form-data; boundary=x", false),
            ("application/json", false),
        ] {
            assert_eq!(
                is_xml(&headers(&[("content-type", content_type)])),
                xml,
                "{content_type}"
            );
        }
        assert!(!is_xml(&headers(&[])));
        assert!(refuse_pages(&headers(&[])).is_none());
        assert!(refuse_pages(&headers(&[("sec-fetch-site", "none")])).is_none());
        for refused in [
            headers(&[("origin", "http://127.0.0.1:7575")]),
            headers(&[("origin", "null")]),
            headers(&[("sec-fetch-site", "cross-site")]),
            headers(&[("sec-fetch-site", "same-origin")]),
        ] {
            assert_eq!(
                refuse_pages(&refused).map(|response| response.status()),
                Some(StatusCode::FORBIDDEN),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn parameters_are_counted_and_typed() {
        assert_eq!(
            checked("supervisor.startProcess", &[Value::from("a")]),
            Ok(())
        );
        assert_eq!(
            checked(
                "supervisor.startProcess",
                &[Value::from("a"), Value::Bool(false)]
            ),
            Ok(())
        );
        for params in [
            vec![],
            vec![Value::from("a"), Value::Bool(true), Value::Nil],
        ] {
            assert_eq!(
                checked("supervisor.startProcess", &params).map_err(|fault| fault.code),
                Err(faults::INCORRECT_PARAMETERS)
            );
        }
        assert_eq!(
            checked("supervisor.x", &[]).map_err(|fault| fault.code),
            Err(faults::UNKNOWN_METHOD)
        );
        assert_eq!(int(&[Value::from(" 12 ")], 0), Ok(12));
        assert_eq!(int(&[Value::Int(-3)], 0), Ok(-3));
        assert!(int(&[Value::from("x")], 0).is_err());
        assert_eq!(flag(&[], 0), Ok(true));
        assert_eq!(flag(&[Value::Int(0)], 0), Ok(false));
        assert!(flag(&[Value::from("yes")], 0).is_err());
    }
}
