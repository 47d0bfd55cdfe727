//! The web dashboard (SPEC §15): `GET /` and `GET /dashboard/{file}` serve a page, its script
//! modules, its style sheet and its icon from bytes compiled into the binary. The page is plain
//! HTML, CSS and JavaScript (no framework, nothing built or fetched at run time) and talks to
//! the API from the same origin, with the same token and the same rules as any other client.
//!
//! What this module owns: the table of assets, their content types and ETags (a hash computed
//! at compile time), conditional GETs (`If-None-Match` → 304) and the headers that keep the
//! page from being framed, sniffed or made to run anything but its own files.
//!
//! Memory: the assets are `include_bytes!` data laid out by the compiler in one block of the
//! binary's read-only data ([`BLOCK`], 64 KiB-aligned), file-backed pages that the kernel maps
//! only when a request reads them: an idle daemon that never served the page holds none of
//! them (docs/PERFORMANCE.md, "Budget of wave 2 features"; `bench/dashboard_memory.py` counts
//! them in /proc/PID/pagemap). Serving them is a handler on the API's thread that hands out a
//! `&'static [u8]`: no thread, no copy, no allocation but the response's own.

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Where the page's files are served, below the root (`/` is the page itself).
pub const PREFIX: &str = "/dashboard/";

/// One file of the dashboard.
pub struct Asset {
    /// The name under [`PREFIX`] (`app.js`); the page itself is `index.html`, served at `/`.
    pub name: &'static str,
    pub content_type: &'static str,
    /// Where its bytes are in [`BLOCK`].
    offset: usize,
    length: usize,
    /// FNV-1a of the bytes, computed by the compiler: the ETag changes with the file.
    pub hash: u64,
}

impl Asset {
    pub fn bytes(&self) -> &'static [u8] {
        BLOCK
            .0
            .get(self.offset..self.offset + self.length)
            .unwrap_or_default()
    }
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";
const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the dashboard: (name, content type, bytes). A file the page or a module
/// refers to must be here (a test reads the references out of the files themselves). Used at
/// compile time only: the bytes are in the binary once, in [`BLOCK`].
const FILES: [(&str, &str, &[u8]); 14] = [
    ("index.html", HTML, include_bytes!("dashboard/index.html")),
    ("style.css", CSS, include_bytes!("dashboard/style.css")),
    ("favicon.svg", SVG, include_bytes!("dashboard/favicon.svg")),
    ("app.js", JS, include_bytes!("dashboard/app.js")),
    ("api.js", JS, include_bytes!("dashboard/api.js")),
    ("dom.js", JS, include_bytes!("dashboard/dom.js")),
    ("session.js", JS, include_bytes!("dashboard/session.js")),
    ("live.js", JS, include_bytes!("dashboard/live.js")),
    ("list.js", JS, include_bytes!("dashboard/list.js")),
    ("program.js", JS, include_bytes!("dashboard/program.js")),
    ("logs.js", JS, include_bytes!("dashboard/logs.js")),
    ("editor.js", JS, include_bytes!("dashboard/editor.js")),
    ("quick.js", JS, include_bytes!("dashboard/quick.js")),
    ("actions.js", JS, include_bytes!("dashboard/actions.js")),
];

/// The size of all files together.
const TOTAL: usize = {
    let mut total = 0;
    let mut index = 0;
    while index < FILES.len() {
        total += FILES[index].2.len();
        index += 1;
    }
    total
};

/// The bytes of every file, one after the other, in a block of the binary's read-only data of
/// their own: aligned to 64 KiB and, since a type's size is a multiple of its alignment, padded
/// to a multiple of it. The kernel maps the pages of a file around each page fault in aligned
/// 64 KiB windows ("fault-around"), so assets that shared a window with the daemon's hot
/// constants were resident in every daemon (all of them, measured); in a block of their own
/// they are mapped only when a request reads them. (The padding costs up to 64 KiB of file,
/// never memory.)
#[repr(C, align(65536))]
struct Block([u8; TOTAL]);

static BLOCK: Block = Block({
    let mut bytes = [0; TOTAL];
    let mut at = 0;
    let mut file = 0;
    while file < FILES.len() {
        let source = FILES[file].2;
        let mut index = 0;
        while index < source.len() {
            bytes[at] = source[index];
            at += 1;
            index += 1;
        }
        file += 1;
    }
    bytes
});

/// The table of files, with where each one is in [`BLOCK`] and its hash.
pub static ASSETS: [Asset; FILES.len()] = {
    const NONE: Asset = Asset {
        name: "",
        content_type: "",
        offset: 0,
        length: 0,
        hash: 0,
    };
    let mut assets = [NONE; FILES.len()];
    let mut offset = 0;
    let mut index = 0;
    while index < FILES.len() {
        let (name, content_type, bytes) = FILES[index];
        assets[index] = Asset {
            name,
            content_type,
            offset,
            length: bytes.len(),
            hash: fnv1a(bytes),
        };
        offset += bytes.len();
        index += 1;
    }
    assets
};

/// The page's Content-Security-Policy: its own files only (no inline script or style, no
/// `eval`, no other origin, no plugin), never framed, no form posted anywhere, and Trusted
/// Types required where the browser knows them, so a string can never become markup.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; \
trusted-types 'none'";

/// 64-bit FNV-1a: a `const fn`, so each asset's ETag costs nothing at run time and touches
/// none of its pages before it is served.
pub const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut index = 0;
    while index < bytes.len() {
        hash ^= bytes[index] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        index += 1;
    }
    hash
}

/// The asset at `name`, if any.
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

/// `GET /`.
pub async fn page(headers: HeaderMap) -> Response {
    match find("index.html") {
        Some(asset) => respond(asset, &headers),
        None => not_found(),
    }
}

/// `GET /dashboard/{file}`.
pub async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match find(&name).filter(|asset| asset.name != "index.html") {
        Some(asset) => respond(asset, &headers),
        None => not_found(),
    }
}

fn not_found() -> Response {
    super::error(
        StatusCode::NOT_FOUND,
        "no_route",
        "no such file of the dashboard; the dashboard is at /",
        serde_json::Value::Null,
    )
}

/// The ETag of an asset: its hash, quoted.
pub fn etag(asset: &Asset) -> String {
    format!("\"{:016x}\"", asset.hash)
}

/// Whether an `If-None-Match` header names this ETag (or `*`): RFC 9110 §13.1.2, weak
/// comparison.
fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

fn respond(asset: &'static Asset, headers: &HeaderMap) -> Response {
    let etag = etag(asset);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| matches(value, &etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            Body::from(Bytes::from_static(asset.bytes())),
        )
            .into_response()
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    // Revalidate every time (a 304 is a few bytes): an upgraded daemon serves its new page at
    // once, and the ETag changes with the bytes.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str) -> &'static str {
        let asset = find(name).unwrap_or_else(|| panic!("{name} is not an asset"));
        std::str::from_utf8(asset.bytes()).expect("utf-8")
    }

    /// The values of `attribute="…"` in a file.
    fn attribute_values<'a>(text: &'a str, attribute: &str) -> Vec<&'a str> {
        let needle = format!("{attribute}=\"");
        text.match_indices(&needle)
            .filter_map(|(start, _)| {
                let rest = &text[start + needle.len()..];
                rest.find('"').map(|end| &rest[..end])
            })
            .collect()
    }

    #[test]
    fn every_file_the_page_refers_to_is_served() {
        let page = text("index.html");
        let mut referred: Vec<&str> = attribute_values(page, "src");
        referred.extend(
            attribute_values(page, "href")
                .into_iter()
                .filter(|href| !href.starts_with('#')),
        );
        assert!(referred.len() >= 3, "{referred:?}");
        for reference in referred {
            let name = reference
                .strip_prefix(PREFIX)
                .unwrap_or_else(|| panic!("index.html refers to {reference}, outside {PREFIX}"));
            assert!(
                find(name).is_some(),
                "index.html refers to {reference}, not served"
            );
        }
        // Every module imported by another is served, and every served module is imported (or
        // is the page's own script).
        let modules: Vec<&Asset> = ASSETS
            .iter()
            .filter(|asset| asset.name.ends_with(".js"))
            .collect();
        let mut imported = vec!["app.js"];
        for module in &modules {
            let source = text(module.name);
            // `import … from './x.js';` (on one line or several): every `from '…'`.
            for (start, _) in source.match_indices(" from '") {
                let rest = &source[start + " from '".len()..];
                let from = &rest[..rest.find('\'').expect("closing quote")];
                let name = from
                    .strip_prefix("./")
                    .unwrap_or_else(|| panic!("{}: imports {from}, not a sibling", module.name));
                assert!(
                    find(name).is_some(),
                    "{} imports {name}, not served",
                    module.name
                );
                imported.push(name);
            }
        }
        for module in modules {
            assert!(
                imported.contains(&module.name),
                "{} is served but never imported",
                module.name
            );
        }
    }

    #[test]
    fn the_page_has_no_inline_script_style_or_handler() {
        let page = text("index.html");
        for (index, _) in page.match_indices("<script") {
            let tag = &page[index..index + page[index..].find('>').expect("tag end")];
            assert!(tag.contains(" src=\"/dashboard/"), "inline script: {tag}");
        }
        assert!(!page.contains("<style"), "an inline style sheet");
        assert!(!page.contains(" style=\""), "an inline style attribute");
        for handler in [
            " onclick=",
            " onload=",
            " onerror=",
            " onsubmit=",
            " oninput=",
            "javascript:",
        ] {
            assert!(!page.contains(handler), "an inline handler: {handler}");
        }
    }

    /// No string from the API ever becomes markup: text goes in as text nodes. (The page's CSP
    /// also requires Trusted Types, which makes these throw in Chromium.)
    #[test]
    fn no_script_turns_a_string_into_markup_or_code() {
        for asset in ASSETS.iter().filter(|asset| asset.name.ends_with(".js")) {
            let source = text(asset.name);
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                "setTimeout('",
                "createContextualFragment",
                "localStorage",
            ] {
                assert!(!source.contains(sink), "{} uses {sink}", asset.name);
            }
        }
    }

    #[test]
    fn etags_follow_the_bytes() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        for asset in &ASSETS {
            assert_eq!(asset.hash, fnv1a(asset.bytes()), "{}", asset.name);
            assert!(!asset.bytes().is_empty(), "{} is empty", asset.name);
        }
        let mut etags: Vec<String> = ASSETS.iter().map(etag).collect();
        etags.sort();
        etags.dedup();
        assert_eq!(etags.len(), ASSETS.len(), "two assets share an ETag");
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists() {
        let etag = "\"00000000000000ab\"";
        for (header, fresh) in [
            ("\"00000000000000ab\"", true),
            ("W/\"00000000000000ab\"", true),
            ("\"x\", \"00000000000000ab\"", true),
            ("*", true),
            ("\"00000000000000ac\"", false),
            ("00000000000000ab", false),
            ("", false),
        ] {
            assert_eq!(matches(header, etag), fresh, "{header:?}");
        }
    }

    #[test]
    fn the_block_holds_every_file_and_is_aligned_to_64_kib() {
        assert_eq!(std::ptr::addr_of!(BLOCK) as usize % 65536, 0);
        assert_eq!(std::mem::size_of::<Block>() % 65536, 0);
        for (asset, (name, content_type, bytes)) in ASSETS.iter().zip(FILES) {
            assert_eq!((asset.name, asset.content_type), (name, content_type));
            assert_eq!(asset.bytes(), bytes, "{name}");
        }
        let ends = ASSETS.last().map(|asset| asset.offset + asset.length);
        assert_eq!(ends, Some(TOTAL));
    }
}
