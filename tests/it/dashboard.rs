//! The web dashboard over HTTP (SPEC §15): the page and its files come from the binary with
//! their content types, ETags and security headers, need no token (they hold no data) while
//! the API still does, and serving them starts no thread. What the page does in a browser is
//! tested in headless Chromium by `tests/browser/` (run by `.ci/run`).

use std::fs;

use hoody_daemon::api::dashboard::{ASSETS, CONTENT_SECURITY_POLICY, etag};
use hoody_daemon::cli::client::{Client, HttpResponse};

use crate::support::TestDaemon;

fn get(client: &Client, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    client
        .request("GET", path, None, headers)
        .unwrap_or_else(|error| panic!("GET {path}: {error}"))
}

/// Where an asset is served: the page at `/`, the others under `/dashboard/`.
fn path_of(name: &str) -> String {
    if name == "index.html" {
        "/".to_string()
    } else {
        format!("/dashboard/{name}")
    }
}

fn assert_security_headers(response: &HttpResponse, path: &str) {
    for (header, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-cache"),
    ] {
        assert_eq!(response.header(header), Some(value), "{path}: {header}");
    }
    let policy = response
        .header("content-security-policy")
        .unwrap_or_default();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{path}: {policy}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));
}

#[test]
fn the_page_and_its_files_are_served_from_the_binary_with_etags_and_security_headers() {
    let daemon = TestDaemon::start();
    let page = get(&daemon.client, "/", &[]);
    assert_eq!(page.status, 200);
    let text = String::from_utf8_lossy(&page.body);
    assert!(
        text.contains("<script type=\"module\" src=\"/dashboard/app.js\"></script>"),
        "{text}"
    );
    for asset in ASSETS {
        let path = path_of(asset.name);
        let response = get(&daemon.client, &path, &[]);
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(
            response.header("content-type"),
            Some(asset.content_type),
            "{path}"
        );
        assert!(
            response.body == asset.bytes,
            "{path}: not the embedded bytes"
        );
        let tag = etag(asset);
        assert_eq!(response.header("etag"), Some(tag.as_str()), "{path}");
        assert_security_headers(&response, &path);

        // A browser revalidates with the ETag: 304, no body, the same headers.
        let fresh = get(&daemon.client, &path, &[("If-None-Match", &tag)]);
        assert_eq!(fresh.status, 304, "{path}");
        assert!(fresh.body.is_empty(), "{path}");
        assert_eq!(fresh.header("etag"), Some(tag.as_str()));
        assert_security_headers(&fresh, &path);
        let stale = get(&daemon.client, &path, &[("If-None-Match", "\"0\"")]);
        assert_eq!(stale.status, 200, "{path}");
    }
    for missing in [
        "/dashboard/nope.js",
        "/dashboard/index.html",
        "/dashboard/",
        "/dashboard/a/app.js",
        "/index.html",
    ] {
        let response = get(&daemon.client, missing, &[]);
        assert_eq!(response.status, 404, "{missing}");
        assert_eq!(response.json()["error"]["code"], "no_route", "{missing}");
    }
    let post = daemon
        .client
        .request("POST", "/", None, &[])
        .expect("POST /");
    assert_eq!(post.status, 405);
}

#[test]
fn the_page_needs_no_token_but_the_api_behind_it_does() {
    let daemon = TestDaemon::start_with(&[], Some("dashboard-secret"));
    let anonymous = Client::new(daemon.client.endpoint.clone(), None);
    for asset in ASSETS {
        let path = path_of(asset.name);
        assert_eq!(get(&anonymous, &path, &[]).status, 200, "{path}");
    }
    for path in [
        "/api/v1/daemon/status",
        "/api/v1/daemon/programs",
        "/api/v1/daemon/events",
        // Not a file of the dashboard: the path only looks like one.
        "/dashboard/../api/v1/daemon/status",
        "/dashboard/x/../../api/v1/daemon/status",
        "/dashboard",
        "/nothing",
    ] {
        let response = get(&anonymous, path, &[]);
        assert_eq!(response.status, 401, "{path}");
    }
    assert_eq!(
        get(&daemon.client, "/api/v1/daemon/status", &[]).status,
        200
    );
}

/// The threads of a process, by name.
fn threads(pid: u32) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(format!("/proc/{pid}/task"))
        .expect("tasks")
        .filter_map(Result::ok)
        .map(|task| fs::read_to_string(task.path().join("comm")).unwrap_or_default())
        .collect();
    names.sort();
    names
}

#[test]
fn serving_the_dashboard_starts_no_thread() {
    let daemon = TestDaemon::start();
    let pid = daemon.pid().expect("pid");
    // A first request of the API, so whatever it starts lazily is there before the count.
    assert_eq!(daemon.get("/status").0, 200);
    let before = threads(pid);
    for _ in 0..5 {
        for asset in ASSETS {
            let response = get(&daemon.client, &path_of(asset.name), &[]);
            assert_eq!(response.status, 200);
        }
    }
    assert_eq!(threads(pid), before);
}
