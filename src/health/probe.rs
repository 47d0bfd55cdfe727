//! The `http` and `tcp` probes: futures on the loop's runtime (tokio, `current_thread`), no
//! thread of their own, bounded by the check's `timeout`. The http probe is a small HTTP/1.1
//! GET written by hand (no client crate): it sends the request with `Connection: close`, reads
//! the status line, and a 2xx or 3xx code is healthy (redirects are not followed). The tcp probe
//! is healthy when the connection is made. Exec probes are processes: `supervisor::probe`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::spec::{HttpTarget, Probe, TcpTarget};

use super::state::bounded_text;

/// The most bytes of an answer read to find its status line.
const MAX_HEAD: usize = 8 * 1024;
/// The most bytes of an answer read (and thrown away) after it, so the server can finish
/// writing before the connection closes.
const MAX_DRAIN: usize = 64 * 1024;

/// What a probe found: healthy or not, and a line saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub ok: bool,
    pub output: String,
}

/// Runs an `http` or `tcp` probe within `timeout`. (An exec probe is not run here.)
pub async fn run(probe: Probe, timeout: Duration) -> Found {
    let work = async {
        match &probe {
            Probe::Http(target) => http(target, timeout).await,
            Probe::Tcp(target) => tcp(target).await,
            Probe::Exec(_) => Found {
                ok: false,
                output: "an exec probe is run by the supervisor".to_string(),
            },
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(found) => found,
        Err(_) => Found {
            ok: false,
            output: format!("timed out after {}", describe_duration(timeout)),
        },
    }
}

async fn tcp(target: &TcpTarget) -> Found {
    match TcpStream::connect(target.address).await {
        Ok(_) => Found {
            ok: true,
            output: format!("connected to {}", target.address),
        },
        Err(error) => Found {
            ok: false,
            output: format!("cannot connect to {}: {}", target.address, reason(&error)),
        },
    }
}

async fn http(target: &HttpTarget, timeout: Duration) -> Found {
    let began = tokio::time::Instant::now();
    let mut stream = match TcpStream::connect(target.address).await {
        Ok(stream) => stream,
        Err(error) => {
            return Found {
                ok: false,
                output: format!("cannot connect to {}: {}", target.address, reason(&error)),
            };
        }
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: hoody-daemon/{} (health probe)\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.path,
        target.host,
        env!("CARGO_PKG_VERSION")
    );
    if let Err(error) = stream.write_all(request.as_bytes()).await {
        return Found {
            ok: false,
            output: format!("cannot send the request: {}", reason(&error)),
        };
    }
    let mut head = Vec::with_capacity(512);
    let mut buffer = [0u8; 1024];
    let line_end = loop {
        if let Some(end) = head.windows(2).position(|pair| pair == b"\r\n") {
            break Some(end);
        }
        if head.len() >= MAX_HEAD {
            break None;
        }
        match stream.read(&mut buffer).await {
            Ok(0) => {
                break head
                    .iter()
                    .position(|byte| *byte == b'\n')
                    .or(Some(head.len()));
            }
            Ok(count) => head.extend_from_slice(&buffer[..count]),
            Err(error) => {
                return Found {
                    ok: false,
                    output: format!("cannot read the answer: {}", reason(&error)),
                };
            }
        }
    };
    let line = bounded_text(&head[..line_end.unwrap_or(head.len()).min(head.len())]);
    let found = match status_code(&line) {
        Some(code) if (200..400).contains(&code) => Found {
            ok: true,
            output: line,
        },
        Some(_) => Found {
            ok: false,
            output: line,
        },
        None if line.is_empty() => Found {
            ok: false,
            output: "the server closed the connection without an answer".to_string(),
        },
        None => Found {
            ok: false,
            output: format!("not an HTTP answer: {line}"),
        },
    };
    // Let the server finish writing before the socket closes (an unread answer makes the close
    // a reset, which some servers log as an error); the verdict does not wait on it.
    let left = timeout.saturating_sub(began.elapsed());
    let mut drained = head.len();
    let _ = tokio::time::timeout(left, async {
        while drained < MAX_DRAIN {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(count) => drained += count,
            }
        }
    })
    .await;
    found
}

/// The code of a status line `HTTP/1.1 200 OK`.
fn status_code(line: &str) -> Option<u16> {
    let mut words = line.split_ascii_whitespace();
    let version = words.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    words
        .next()?
        .parse::<u16>()
        .ok()
        .filter(|code| (100..600).contains(code))
}

fn reason(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => error.to_string(),
    }
}

pub(crate) fn describe_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds.fract() == 0.0 {
        format!("{seconds:.0}s")
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status_code("HTTP/1.1 200 OK"), Some(200));
        assert_eq!(status_code("HTTP/1.0 503 Service Unavailable"), Some(503));
        assert_eq!(status_code("HTTP/1.1 302"), Some(302));
        assert_eq!(status_code("SSH-2.0-OpenSSH"), None);
        assert_eq!(status_code("HTTP/1.1 abc"), None);
        assert_eq!(status_code(""), None);
    }

    /// A real loopback server per case: the answer decides.
    #[tokio::test(flavor = "current_thread")]
    async fn http_probe_against_a_loopback_server() {
        let cases = [
            ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true),
            ("HTTP/1.0 301 Moved\r\nLocation: /x\r\n\r\n", true),
            ("HTTP/1.1 500 Internal Server Error\r\n\r\n", false),
            ("hello\n", false),
            ("", false),
        ];
        for (answer, healthy) in cases {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request = vec![0u8; 1024];
                let count = socket.read(&mut request).await.unwrap();
                socket.write_all(answer.as_bytes()).await.unwrap();
                String::from_utf8_lossy(&request[..count]).into_owned()
            });
            let url = format!("http://{address}/healthz?x=1");
            let target = crate::spec::health::http_target(&url).unwrap();
            let found = run(Probe::Http(target), Duration::from_secs(10)).await;
            assert_eq!(found.ok, healthy, "{answer:?}: {found:?}");
            let request = server.await.unwrap();
            assert!(
                request.starts_with("GET /healthz?x=1 HTTP/1.1\r\n"),
                "{request}"
            );
            assert!(
                request.contains(&format!("Host: {address}\r\n")),
                "{request}"
            );
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn tcp_probe_and_timeouts() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let target = crate::spec::health::tcp_target(&address.to_string()).unwrap();
        let found = run(Probe::Tcp(target), Duration::from_secs(10)).await;
        assert!(found.ok, "{found:?}");
        // A server that accepts and never answers: the http probe times out.
        let url = format!("http://{address}/");
        let target = crate::spec::health::http_target(&url).unwrap();
        let silent = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(socket);
        });
        let found = run(Probe::Http(target), Duration::from_millis(200)).await;
        assert!(!found.ok);
        assert_eq!(found.output, "timed out after 0.2s");
        silent.abort();
        // Nothing listens: refused.
        drop(silent);
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = closed.local_addr().unwrap();
        drop(closed);
        let target = crate::spec::health::tcp_target(&address.to_string()).unwrap();
        let found = run(Probe::Tcp(target), Duration::from_secs(10)).await;
        assert!(!found.ok);
        assert!(found.output.contains("cannot connect"), "{found:?}");
    }
}
