//! The pages (API.md's clients for students and teachers), served by contestd itself from the
//! `web/` folder, embedded in the binary at compile time (debug builds read it from disk, from
//! the working directory: run them from the repository's root, as cargo does).
//!
//! Loaded once at start: every asset is served under `/assets/<version>/…`, where the version
//! is a hash of all the files, so assets are cached for a year (`immutable`) and a new build
//! changes every URL; the pages (`/` for students, `/admin` for teachers) name that prefix and
//! are revalidated with their `ETag`. Each JavaScript module is served with its local imports
//! inlined (`bundle`), so a page costs its HTML, its CSS and one script per entry. Bodies of
//! 1 KiB or more are also kept gzipped, for clients that accept it.

use std::collections::HashMap;
use std::io::Write as _;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct Files;

/// The security headers of every page and asset (no inline script, no framing, no referrer).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The pages: URL path and file.
const PAGES: &[(&str, &str)] = &[("/", "index.html"), ("/admin", "admin.html")];

/// One file as served.
struct Asset {
    content_type: &'static str,
    body: Vec<u8>,
    gzip: Option<Vec<u8>>,
    etag: String,
}

impl Asset {
    fn new(path: &str, body: Vec<u8>) -> Asset {
        let hash = Sha256::digest(&body);
        let etag = format!("\"{}\"", hex(&hash[..12]));
        let gzip = (body.len() >= 1024).then(|| gzip(&body));
        Asset {
            content_type: content_type(path),
            body,
            gzip,
            etag,
        }
    }
}

/// The loaded site.
pub struct Site {
    version: String,
    pages: HashMap<&'static str, Asset>,
    assets: HashMap<String, Asset>,
}

/// Why the site could not be loaded: a page is missing, or a module does not follow the
/// bundler's rules (see `bundle`).
#[derive(Debug, thiserror::Error)]
#[error("web/{path}: {message}")]
pub struct SiteError {
    path: String,
    message: String,
}

impl Site {
    pub fn load() -> Result<Site, SiteError> {
        let mut files: Vec<(String, Vec<u8>)> = Files::iter()
            .filter_map(|path| {
                let file = Files::get(&path)?;
                Some((path.into_owned(), file.data.into_owned()))
            })
            .collect();
        files.sort();
        let mut all = Sha256::new();
        for (path, data) in &files {
            all.update(path.as_bytes());
            all.update(Sha256::digest(data));
        }
        let version = hex(&all.finalize()[..6]);
        let sources: HashMap<&str, &[u8]> = files
            .iter()
            .map(|(p, d)| (p.as_str(), d.as_slice()))
            .collect();
        let mut assets = HashMap::new();
        for (path, data) in &files {
            let body = if path.ends_with(".js") {
                bundle(path, &sources)?.into_bytes()
            } else {
                data.clone()
            };
            if !path.ends_with(".html") {
                assets.insert(path.clone(), Asset::new(path, body));
            }
        }
        let mut pages = HashMap::new();
        for &(route, file) in PAGES {
            let html = sources.get(file).ok_or_else(|| SiteError {
                path: file.into(),
                message: "missing".into(),
            })?;
            let html = String::from_utf8_lossy(html).replace("{{version}}", &version);
            pages.insert(route, Asset::new(file, html.into_bytes()));
        }
        Ok(Site {
            version,
            pages,
            assets,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(page))
        .route("/admin", web::get().to(page))
        .route("/assets/{version}/{path:.*}", web::get().to(asset));
}

async fn page(req: HttpRequest, site: web::Data<Site>) -> HttpResponse {
    match site.pages.get(req.path()) {
        Some(page) => serve(&req, page, "no-cache"),
        None => HttpResponse::NotFound().finish(),
    }
}

async fn asset(
    req: HttpRequest,
    site: web::Data<Site>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (version, path) = path.into_inner();
    let Some(asset) = site.assets.get(&path) else {
        return not_found();
    };
    // An old version's URL gets today's file, but only for a short while in caches.
    let cache = if version == site.version {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    serve(&req, asset, cache)
}

fn not_found() -> HttpResponse {
    let mut resp = HttpResponse::NotFound().json(serde_json::json!({
        "error": "not_found", "message": "no such file"
    }));
    secure(&mut resp);
    resp
}

fn serve(req: &HttpRequest, asset: &Asset, cache: &'static str) -> HttpResponse {
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == asset.etag || t.trim() == "*")
        });
    let mut resp = if matches {
        HttpResponse::NotModified().finish()
    } else {
        let gzip = asset.gzip.as_ref().filter(|_| accepts_gzip(req));
        let mut builder = HttpResponse::Ok();
        builder.content_type(asset.content_type);
        match gzip {
            Some(body) => builder
                .insert_header((header::CONTENT_ENCODING, "gzip"))
                .body(body.clone()),
            None => builder.body(asset.body.clone()),
        }
    };
    let headers = resp.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    secure(&mut resp);
    resp
}

/// The headers every page and asset carries.
fn secure(resp: &mut HttpResponse) {
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The module at `path` with its local imports inlined, each module once, dependencies
/// first: one request per page instead of one per module. The modules follow three rules,
/// checked here (a module that breaks one stops the server at start, and the unit test below
/// loads the real `web/`):
///
/// - an import is one line, `import { a, b } from './x.js';` (relative, no renaming);
/// - an export is `export function|async function|class|const|let NAME` at the start of a line;
/// - exported names are unique across the modules a page uses.
///
/// Each inlined module runs in its own function scope and hands out its exports, so its
/// other top-level names stay its own.
pub fn bundle(path: &str, sources: &HashMap<&str, &[u8]>) -> Result<String, SiteError> {
    let mut out = String::new();
    let mut done = Vec::new();
    inline(path, sources, &mut done, &mut out, true)?;
    Ok(out)
}

fn inline(
    path: &str,
    sources: &HashMap<&str, &[u8]>,
    done: &mut Vec<String>,
    out: &mut String,
    entry: bool,
) -> Result<(), SiteError> {
    let fail = |message: String| SiteError {
        path: path.into(),
        message,
    };
    if done.iter().any(|d| d == path) {
        return Ok(());
    }
    done.push(path.into());
    let source = sources
        .get(path)
        .ok_or_else(|| fail("imported but missing".into()))?;
    let source = std::str::from_utf8(source).map_err(|_| fail("not UTF-8".into()))?;
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    let mut body = String::new();
    let mut exports = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let at = |m: &str| fail(format!("line {}: {m}", n + 1));
        if let Some(rest) = line.strip_prefix("import ") {
            let spec = rest
                .split_once(" from '")
                .and_then(|(_, s)| s.strip_suffix("';"))
                .ok_or_else(|| at("an import must read `import { a } from './x.js';`"))?;
            let rel = spec
                .strip_prefix("./")
                .ok_or_else(|| at("only './' imports are bundled"))?;
            if rest.contains(" as ") {
                return Err(at("imports may not rename (`as`)"));
            }
            let dep = if dir.is_empty() {
                rel.to_string()
            } else {
                format!("{dir}/{rel}")
            };
            inline(&dep, sources, done, out, false)?;
            continue;
        }
        if let Some(rest) = line.strip_prefix("export ") {
            let decl = rest.trim_start_matches("async ");
            let name = ["function ", "class ", "const ", "let "]
                .iter()
                .find_map(|kw| decl.strip_prefix(kw))
                .map(|r| {
                    r.trim_start_matches('*')
                        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                        .next()
                        .unwrap_or("")
                })
                .filter(|n| !n.is_empty())
                .ok_or_else(|| at("an export must declare a function, class, const or let"))?;
            exports.push(name.to_string());
            body.push_str(rest);
        } else {
            body.push_str(line);
        }
        body.push('\n');
    }
    if entry {
        out.push_str(&body);
    } else {
        let names = exports.join(", ");
        out.push_str(&format!(
            "// {path}\nconst {{ {names} }} = (() => {{\n{body}return {{ {names} }};\n}})();\n"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources<'a>(files: &'a [(&'a str, &'a str)]) -> HashMap<&'a str, &'a [u8]> {
        files.iter().map(|(p, s)| (*p, s.as_bytes())).collect()
    }

    #[test]
    fn a_bundle_inlines_each_module_once_dependencies_first() {
        let files = [
            ("js/a.js", "import { b } from './b.js';\nimport { c } from './c.js';\nb(c);\n"),
            ("js/b.js", "import { c } from './c.js';\nconst own = 1;\nexport function b(x) { return x + own; }\n"),
            ("js/c.js", "export const c = 2;\n"),
        ];
        let out = bundle("js/a.js", &sources(&files)).unwrap();
        assert_eq!(
            out,
            "// js/c.js\nconst { c } = (() => {\nconst c = 2;\nreturn { c };\n})();\n\
             // js/b.js\nconst { b } = (() => {\nconst own = 1;\nfunction b(x) { return x + own; }\nreturn { b };\n})();\n\
             b(c);\n"
        );
    }

    #[test]
    fn modules_that_break_the_rules_are_named() {
        for (source, says) in [
            ("import { x as y } from './b.js';\n", "rename"),
            ("import x from 'https://cdn/x.js';\n", "import"),
            ("import { x } from '../b.js';\n", "'./'"),
            ("export default 1;\n", "export"),
            ("import { x } from './missing.js';\n", "missing"),
        ] {
            let files = [("a.js", source), ("b.js", "export const x = 1;\n")];
            let err = bundle("a.js", &sources(&files)).unwrap_err().to_string();
            assert!(err.contains(says), "{source:?}: {err}");
        }
    }

    #[test]
    fn the_real_site_loads() {
        let site = Site::load().unwrap();
        assert_eq!(site.version().len(), 12);
        for (route, _) in PAGES {
            let page = String::from_utf8_lossy(&site.pages[route].body).into_owned();
            assert!(
                page.contains(&format!("/assets/{}/", site.version())),
                "{page}"
            );
        }
    }
}
