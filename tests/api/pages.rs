//! The pages as HTTP serves them (src/web.rs): the student page at `/` and the teacher's console
//! at `/admin`, their assets under one versioned prefix with a year of caching, `ETag`
//! revalidation, gzip, the security headers on everything, and few requests per page. What
//! the pages do is tested in a real browser (`tests/browser/`).

use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;

use crate::support::TestApp;

both_databases!(
    pages_and_assets_carry_the_security_headers,
    assets_are_versioned_cached_and_revalidated,
    the_student_page_needs_three_static_requests,
    unknown_assets_are_json_404,
);

/// Every answer of the web side carries these.
fn assert_secure(headers: &HeaderMap, what: &str) {
    let csp = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    for directive in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "default-src 'self'",
    ] {
        assert!(csp.contains(directive), "{what}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{what}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{what}");
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .no_gzip()
        .build()
        .expect("a client");
    let mut req = client.get(format!("{}{path}", app.address));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("the server answers")
}

/// The `src`/`href` of the page's assets, in order.
fn assets_of(html: &str) -> Vec<String> {
    html.split(['"', '\''])
        .filter(|s| s.starts_with("/assets/"))
        .map(str::to_string)
        .collect()
}

async fn pages_and_assets_carry_the_security_headers(app: &TestApp) {
    for page in ["/", "/admin"] {
        let resp = get(app, page, &[]).await;
        assert_eq!(resp.status(), StatusCode::OK, "{page}");
        assert_secure(resp.headers(), page);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let html = resp.text().await.expect("a body");
        let assets = assets_of(&html);
        assert!(!assets.is_empty(), "{page}: {html}");
        for asset in assets {
            let resp = get(app, &asset, &[]).await;
            assert_eq!(resp.status(), StatusCode::OK, "{asset}");
            assert_secure(resp.headers(), &asset);
            let kind = resp.headers()[header::CONTENT_TYPE].to_str().unwrap_or("");
            let expected = if asset.ends_with(".js") {
                "text/javascript"
            } else {
                "text/css"
            };
            assert!(kind.starts_with(expected), "{asset}: {kind}");
            // No inline script anywhere: every script is a file of the site.
            let body = resp.text().await.expect("a body");
            assert!(!body.contains("<script"), "{asset}");
        }
        assert!(
            !html.contains("<script>") && !html.contains("style=\""),
            "{page}: inline script or style: {html}"
        );
    }
}

async fn assets_are_versioned_cached_and_revalidated(app: &TestApp) {
    let html = get(app, "/", &[]).await.text().await.expect("a body");
    let script = assets_of(&html)
        .into_iter()
        .find(|a| a.ends_with(".js"))
        .expect("a script");
    let plain = get(app, &script, &[]).await;
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    let plain = plain.bytes().await.expect("a body");
    let resp = get(app, &script, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(
        resp.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let etag = resp.headers()[header::ETAG]
        .to_str()
        .expect("an ETag")
        .to_string();
    // Bodies of 1 KiB and more are sent gzipped to clients that take it.
    let gzipped = resp.headers().get(header::CONTENT_ENCODING).is_some();
    assert_eq!(gzipped, plain.len() >= 1024, "{} bytes", plain.len());
    let sent = resp.bytes().await.expect("a body");
    if gzipped {
        assert!(sent.len() < plain.len(), "gzip is smaller");
    }
    let again = get(app, &script, &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    // The page itself is revalidated every time.
    let page = get(app, "/", &[]).await;
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-cache");
    let etag = page.headers()[header::ETAG]
        .to_str()
        .expect("an ETag")
        .to_string();
    let again = get(app, "/", &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    // Another version's URL is not cached for long.
    let version = script.split('/').nth(2).expect("a version");
    let stale = script.replacen(version, "000000000000", 1);
    let resp = get(app, &stale, &[]).await;
    assert_eq!(resp.status(), StatusCode::OK, "{stale}");
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-cache");
}

/// The student page is its HTML, one stylesheet and one script (its modules inlined): with
/// the first API call, interactive after four requests at most.
async fn the_student_page_needs_three_static_requests(app: &TestApp) {
    let html = get(app, "/", &[]).await.text().await.expect("a body");
    let assets = assets_of(&html);
    assert_eq!(assets.len(), 2, "one stylesheet and one script: {assets:?}");
    for asset in assets.iter().filter(|a| a.ends_with(".js")) {
        let body = get(app, asset, &[]).await.text().await.expect("a body");
        assert!(
            !body.lines().any(|l| l.starts_with("import ")),
            "{asset} still imports modules"
        );
    }
}

async fn unknown_assets_are_json_404(app: &TestApp) {
    let resp = get(app, "/assets/0/js/nothing.js", &[]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_secure(resp.headers(), "404");
    let body: serde_json::Value = resp.json().await.expect("JSON");
    assert_eq!(body["error"], "not_found");
}
