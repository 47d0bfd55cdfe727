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
    for asset in &ASSETS {
        let path = path_of(asset.name);
        let response = get(&daemon.client, &path, &[]);
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(
            response.header("content-type"),
            Some(asset.content_type),
            "{path}"
        );
        assert!(
            response.body == asset.bytes(),
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
    for asset in &ASSETS {
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
        for asset in &ASSETS {
            let response = get(&daemon.client, &path_of(asset.name), &[]);
            assert_eq!(response.status, 200);
        }
    }
    assert_eq!(threads(pid), before);
}

/// How many of the dashboard's pages are resident in the daemon, of how many. The block of
/// assets is found in the binary file (it starts with the first asset, 4 KiB-aligned in the
/// file since it is 64 KiB-aligned in memory), its file offsets turned into addresses with
/// /proc/PID/maps, and each page looked up in /proc/PID/pagemap (bit 63: present).
fn resident_dashboard_pages(pid: u32) -> (usize, usize) {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::FileExt;
    const PAGE: usize = 4096;
    let binary = crate::support::binary();
    // Looked for page by page (the debug binary is about 100 MB: not read whole).
    let file = fs::File::open(&binary).expect("binary");
    let size = file.metadata().expect("binary size").len() as usize;
    let first = ASSETS[0].bytes();
    let mut candidate = vec![0; first.len()];
    let start = (0..size.saturating_sub(first.len()))
        .step_by(PAGE)
        .find(|&offset| {
            file.read_exact_at(&mut candidate[..64], offset as u64)
                .is_ok()
                && candidate[..64] == first[..64]
                && file.read_exact_at(&mut candidate, offset as u64).is_ok()
                && candidate == first
        })
        .expect("the block of assets in the binary");
    let length: usize = ASSETS.iter().map(|asset| asset.bytes().len()).sum();
    let real = fs::canonicalize(&binary).expect("binary path");
    let maps = fs::read_to_string(format!("/proc/{pid}/maps")).expect("maps");
    let mappings: Vec<(usize, usize, usize)> = maps
        .lines()
        .filter_map(|line| {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let path = fs::canonicalize(parts.get(5)?).ok()?;
            if path != real {
                return None;
            }
            let (low, high) = parts[0].split_once('-')?;
            let low = usize::from_str_radix(low, 16).ok()?;
            let high = usize::from_str_radix(high, 16).ok()?;
            Some((low, high, usize::from_str_radix(parts[2], 16).ok()?))
        })
        .collect();
    let mut pagemap = fs::File::open(format!("/proc/{pid}/pagemap")).expect("pagemap");
    let mut resident = 0;
    let mut total = 0;
    for offset in (start..start + length).step_by(PAGE) {
        let Some(address) = mappings.iter().find_map(|&(low, high, file)| {
            (file <= offset && offset < file + (high - low)).then(|| low + offset - file)
        }) else {
            panic!("page at file offset {offset:#x} is not mapped:\n{maps}");
        };
        let mut entry = [0; 8];
        pagemap
            .seek(SeekFrom::Start((address / PAGE * 8) as u64))
            .expect("seek");
        pagemap.read_exact(&mut entry).expect("pagemap entry");
        resident += usize::from(u64::from_le_bytes(entry) >> 63 == 1);
        total += 1;
    }
    (resident, total)
}

#[test]
fn the_dashboard_is_not_in_memory_until_it_is_served() {
    let mut daemon = TestDaemon::start();
    daemon.put(
        "web.toml",
        "command = \"sleep 100000\"\nboot = true\nstartsecs = 0\n",
    );
    daemon.wait_state("web", "RUNNING");
    assert_eq!(daemon.get("/programs").0, 200);
    let pid = daemon.pid().expect("pid");
    let (idle, total) = resident_dashboard_pages(pid);
    assert!(total >= 10, "{total} pages");
    assert_eq!(
        idle, 0,
        "{idle} of the dashboard's {total} pages are resident in a daemon that never served it"
    );
    for asset in &ASSETS {
        assert_eq!(get(&daemon.client, &path_of(asset.name), &[]).status, 200);
    }
    let (served, _) = resident_dashboard_pages(pid);
    assert_eq!(served, total, "serving every asset maps every page");
    daemon.terminate();
}
